"""`python -m bot`: the same entry point as the `kindred` console script."""

from bot.cli import main

raise SystemExit(main())
