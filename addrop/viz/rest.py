"""Reading a running AD-DROP Studio's REST API (GET only), with its API token where the server asks for one."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any


def get_json(base_url: str, path: str, token: str | None = None, timeout: float = 30.0) -> Any:
    """``GET base_url + path`` as JSON; an error status raises ``urllib.error.HTTPError``."""
    url = urllib.parse.urljoin(base_url.rstrip("/") + "/", path.lstrip("/"))
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
        return json.load(response)
