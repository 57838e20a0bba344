"""Checks on a JSON request body that run before any route parses it: it must be text, and nest arrays and
objects at most :data:`MAX_JSON_DEPTH` deep.

Python's json parser recurses once per array or object: a body nested some thousands deep raises
RecursionError, and bytes that are not text raise UnicodeDecodeError; FastAPI answers both with an
unhelpful, undocumented 400 ("There was an error parsing the body"). A body nested a few hundred deep
parses, but then recurses again through pydantic, the error handler and the database's JSON encoder. No
request of this API nests more than a handful of levels, so this middleware refuses deeper bodies, and
undecodable ones, with a 422 that says what is wrong, on every route.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_DEPTH = 32
# A JSON string (escapes included) or one bracket; brackets inside strings are not structure.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON ``text`` nests arrays and objects more than ``limit`` deep. For text that is not JSON the
    answer is only a guess, but json.loads then fails before it could recurse any deeper."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for token in _TOKENS.finditer(text):
        char = text[token.start()]
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char != '"':  # a closing bracket
            depth -= 1
    return False


def body_problem(body: bytes, limit: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """What is wrong with a JSON request body before parsing, as (error type, message), or None."""
    try:
        # json.loads accepts UTF-8, UTF-16 and UTF-32 (told apart by the first bytes), and nothing else.
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError as error:
        return "json_not_text", (f"the request body is not valid {error.encoding.upper()} text (byte {error.start}); "
                                 "send JSON as UTF-8")
    if json_depth_exceeds(text, limit):
        return "json_too_deep", f"the request body is nested too deep (JSON arrays and objects more than {limit} levels)"
    return None


def _is_json(scope: Scope) -> bool:
    # The content types FastAPI parses as JSON (application/json and application/*+json).
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
    return False


class JsonBodyGuard:
    """Pure ASGI middleware: reads a JSON request body, refuses it (422) when :func:`body_problem` finds
    something, and otherwise hands the same bytes on to the app; other requests pass untouched."""

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away: let the app see it
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        problem = body_problem(b"".join(chunks), self.limit) if messages[-1]["type"] == "http.request" else None
        if problem is not None:
            await self._refuse(send, *problem)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, kind: str, message: str) -> None:
        error = {"type": kind, "loc": ["body"], "msg": message, "input": None}
        if kind == "json_too_deep":
            error["ctx"] = {"limit": self.limit}
        body = json.dumps({"detail": message, "errors": [error]}, separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": 422, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
