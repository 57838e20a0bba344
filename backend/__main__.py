"""``python -m backend``: serve the web app (see :mod:`backend.serve`)."""

from backend.serve import main

raise SystemExit(main())
