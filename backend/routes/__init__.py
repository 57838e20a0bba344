"""HTTP routes, one module per resource; each route is thin and calls a service."""

GET_AND_HEAD = ["GET", "HEAD"]
"""The methods of a page: HEAD answers as GET does, without the body, for ``curl -I``,
link checkers and uptime monitors (FastAPI's ``get`` answers HEAD with a 405)."""
