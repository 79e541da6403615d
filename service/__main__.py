"""`python -m service`: the operator command line (see service.cli)."""

from service.cli import main

raise SystemExit(main())
