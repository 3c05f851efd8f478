"""The GitHub Action's entry point (``python -m engine.github.action``, run by action.yml).

action.yml hands every input over as an environment variable (``CHANGEGATE_MODE``, ...),
never by writing it into a script, and GitHub adds its own ``GITHUB_*`` variables. Modes:

- ``check``: judge a pull request (pull_request, pull_request_review, merge_group) with the
  policies of its base commit; annotations, a job summary, a sticky comment, optionally a
  commit status; a deny fails the step, so a required check blocks the merge.
- ``gate``: may this deploy go ahead (``changegate gate``); a closed gate fails the step.
- ``record`` and ``audit``: the audit trail (after a merge; on a schedule).
- ``publish``: post the comment of a verdict that a read-only run (a fork's pull request)
  left as an artifact, from a ``workflow_run`` workflow that may write.

Whatever a person wrote reaches the log only between ``::stop-commands::`` markers, and
comments and summaries only escaped (engine/escaping.py).
"""
