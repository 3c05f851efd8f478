"""Judging: one run (the judge), its parallel form, and the deploy gate."""
