"""What keeps a browser from being turned against the app: only the configured host names are answered
(Starlette's ``TrustedHostMiddleware``, wired in :func:`backend.main.create_app`), and every response carries
``X-Content-Type-Options: nosniff``, every page a Content-Security-Policy and ``X-Frame-Options: DENY``.

The Host check stops DNS rebinding: a page on ``attacker.example`` that has its name re-pointed at 127.0.0.1
can make the visitor's browser send requests to the app, same-origin as far as the browser knows, but they
still say ``Host: attacker.example``. Without the check such a page could submit jobs that read local
directories on a loopback server without a token (the default).

A page's policy allows scripts from the app itself and, of the inline ones, only the page's import map (by its
SHA-256, read from the page as it goes out): the templates run no other inline code (their JSON data blocks are
not executed), so a script injected into a page does not run, whatever its text. The API documentation pages,
whose HTML holds no request data, set their own policy with the hashes of their start-up scripts
(:func:`documentation_policy`); styles may be inline (Plotly.js and the templates set style attributes).
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The page may load from, connect to and submit to the app only; it may not be framed (clickjacking) or
# change its base URL. data: and blob: URLs stay in the browser: Plotly draws images from them, and the
# explorer's PNG and SVG exports fetch Plotly's data: URL to save it.
POLICY = ("default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' data: blob:; "
          "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# An inline script: a <script> element without a src attribute (its attributes, and its text exactly as the
# browser hashes it).
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_IMPORT_MAP = re.compile(r"""\btype\s*=\s*["']?importmap\b""", re.IGNORECASE)


def content_security_policy(html: str) -> str:
    """The policy of a template page whose text is ``html``: :data:`POLICY` with the hash of its import map, the
    one inline script the templates have (an import map only maps module names; script-src still decides what
    loads)."""
    return _with_hashes(match.group(2) for match in _INLINE_SCRIPT.finditer(html) if _IMPORT_MAP.search(match.group(1)))


def documentation_policy(html: str) -> str:
    """The policy of an API documentation page, generated from the app's settings alone: every inline script
    in it may run."""
    return _with_hashes(match.group(2) for match in _INLINE_SCRIPT.finditer(html))


def _with_hashes(scripts) -> str:
    hashes = sorted({_sha256(text) for text in scripts})
    return POLICY.format(hashes="".join(f" '{digest}'" for digest in hashes))


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


class SecurityHeaders:
    """Pure ASGI middleware: ``nosniff`` on every response; on an HTML page (read whole, pages are tens of KiB,
    to hash its inline scripts) also the Content-Security-Policy and ``X-Frame-Options: DENY``. Other
    responses pass through unbuffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def secured(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
                message = {**message, "headers": headers}
                if _is_page(headers):
                    start = message  # held until the body is whole
                    return
                if _has_policy(headers):  # a documentation page's own
                    message = {**message, "headers": [*headers, (b"x-frame-options", b"DENY")]}
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                policy = content_security_policy(body.decode("utf-8", "replace"))
                await send({**start, "headers": [*start["headers"], (b"content-security-policy", policy.encode()),
                                                  (b"x-frame-options", b"DENY")]})
                message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, secured)


def _is_page(headers: list[tuple[bytes, bytes]]) -> bool:
    # An encoded (compressed) body could not be read for its scripts; the app sends no page so.
    kinds = {name.lower(): value for name, value in headers}
    return (kinds.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in kinds
            and b"content-security-policy" not in kinds)


def _has_policy(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name.lower() == b"content-security-policy" for name, _ in headers)
