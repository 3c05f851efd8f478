"""The GitHub App for custom deployment protection rules (``changegate serve``, SPEC §9a).

A delivery goes through these modules in order: ``settings`` (the App's environment),
``webhooks`` (the signature and the delivery checked before anything else), ``state`` (the
SQLite file: deliveries seen, requests queued or waiting), ``mirror`` (the default branch
fetched into a bare mirror and loaded once per commit), ``decide`` (the gate for each service
at one instant), ``worker`` (token, fetch, decision, answer; the waiting queue), ``server``
(the ASGI routes, the one module that imports Starlette) and ``serving`` (uvicorn, the one
module that imports it). ``logs`` writes the JSON lines.
"""
