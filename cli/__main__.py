"""`python -m cli ...`: the `daosim` command without the installed console script."""

from cli.main import main

raise SystemExit(main())
