"""`python -m sipnotify` runs the command line."""

from sipnotify.cli import main

raise SystemExit(main())
