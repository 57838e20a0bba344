"""``python -m worker`` / ``addrop-worker``: a job worker (see :mod:`worker.cli`)."""

from worker.cli import main

raise SystemExit(main())
