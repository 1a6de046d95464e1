"""``python -m qc``: the command line."""

from qc.cli import main

raise SystemExit(main())
