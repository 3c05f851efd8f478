"""GitHub (SPEC §9): the REST client, events, the request context snapshot, the Action."""
