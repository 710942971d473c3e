"""`python -m sipnotify` runs the command line."""

from sipnotify.cli.main import main

raise SystemExit(main())
