"""The request (SPEC §5-6): the context of a run, approvals derived from reviews, names given for a
deploy.
"""
