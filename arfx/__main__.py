"""`python -m arfx` runs the command-line interface."""

from arfx.cli import main

raise SystemExit(main())
