"""Policies (SPEC §4): where they come from, the CEL function library, evaluation, waivers, policy
tests.
"""
