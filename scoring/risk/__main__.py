"""``python -m scoring.risk``: see `scoring.risk.cli`."""

from scoring.risk.cli import main

raise SystemExit(main())
