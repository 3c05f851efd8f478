"""``python -m engine.github.action``: what action.yml runs."""

from engine.github.action.main import main

raise SystemExit(main())
