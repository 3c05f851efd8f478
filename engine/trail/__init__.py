"""The audit trail (SPEC §10): decision records in git notes, history, audit flags, metrics, the
HTML report.
"""
