"""Checks on a request body that run before any route reads it: its size and the time it takes to arrive
(:class:`BodyLimits`, every request), and for a JSON body that it is text, nests arrays and objects at most
:data:`MAX_JSON_DEPTH` deep, holds no integer too long to read and at most :data:`MAX_JSON_VALUES` values
(:class:`JsonBodyGuard`).

Python's json parser recurses once per array or object: a body nested some thousands deep raises
RecursionError, bytes that are not text raise UnicodeDecodeError, and an integer of more than 4300 digits
ValueError; FastAPI answers each with an unhelpful, undocumented 400 ("There was an error parsing the body").
A body nested a few hundred deep parses, but then recurses again through pydantic, the error handler and the
database's JSON encoder. No request of this API nests more than a handful of levels, so this middleware
refuses deeper bodies, undecodable ones and ones with such integers with a 422 that says what is wrong, on
every route.

Each value of a body can cost a validation error, and pydantic's errors cost the event loop, and so every other
request, tens of microseconds each: a body of 50,000 unknown fields (600 KiB, under the size cap) took 3 to 7 s before
any handler ran. The largest request a client makes (a sweep with a job's 1024 probe ids, a search space and a
hundred prior trials) holds a few thousand values, so a body of more than :data:`MAX_JSON_VALUES` is refused
before it is parsed.

Every scan here is linear in the body's length, since the whole body is scanned before anything else runs.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_DEPTH = 32
MAX_JSON_VALUES = 10_000
# A JSON string (escapes included), or an unterminated one up to the end of the text: the match never fails once
# it has begun, so a scan is linear. Requiring the closing quote made an unterminated string retry from each of
# its later quotes (a quote, then escaped quotes to the end): 80 KiB of them held the event loop 30 s.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)'
_STRINGS = re.compile(_STRING, re.DOTALL)
# A JSON string or one bracket; brackets inside strings are not structure.
_TOKENS = re.compile(_STRING + r'|[\[\]{}]', re.DOTALL)


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


# Python reads an integer of at most this many digits (0: any), and raises a ValueError past it.
MAX_INT_DIGITS = sys.get_int_max_str_digits()
# A JSON string, or a number (an integer is one without a fraction or an exponent).
_STRING_OR_NUMBER = re.compile(_STRING + r'|-?(\d+)(\.\d+)?([eE][-+]?\d+)?', re.DOTALL)


def json_integer_too_long(text: str, limit: int = MAX_INT_DIGITS) -> int | None:
    """The digits of the first integer in JSON ``text`` longer than ``limit`` digits, or None. A float of any
    length reads (a long fraction or exponent is no integer)."""
    # Only from a run's first digit: a search from every digit of short runs read each run once per digit (a body
    # of 4300-digit numbers took 18 s a MiB).
    if not limit or not re.search(r"(?<!\d)\d{%d}" % (limit + 1), text):
        return None
    for token in _STRING_OR_NUMBER.finditer(text):
        digits, fraction, exponent = token.groups()
        if digits is not None and fraction is None and exponent is None and len(digits) > limit:
            return len(digits)
    return None


def json_values_exceed(text: str, limit: int = MAX_JSON_VALUES) -> bool:
    """Whether JSON ``text`` holds more than ``limit`` values in its arrays and objects: at least ``limit`` commas
    outside strings (each separates two items or two members)."""
    if text.count(",") < limit:
        return False
    return _STRINGS.sub("", text).count(",") >= limit


def body_problem(body: bytes, limit: int = MAX_JSON_DEPTH, values: int = MAX_JSON_VALUES) -> tuple[str, str] | None:
    """What is wrong with a JSON request body before parsing, as (error type, message), or None."""
    try:
        # json.loads accepts UTF-8, UTF-16 and UTF-32 (told apart by the first bytes), and nothing else.
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError as error:
        return "json_not_text", (f"the request body is not valid {error.encoding.upper()} text (byte {error.start}); "
                                 "send JSON as UTF-8")
    # First the count, whose fast path is one pass of str.count: a body of too many values skips the other scans.
    if json_values_exceed(text, values):
        return "json_too_many_values", (f"the request body holds more than {values} values (array items and object "
                                        "members); no request of this API needs as many")
    if json_depth_exceeds(text, limit):
        return "json_too_deep", f"the request body is nested too deep (JSON arrays and objects more than {limit} levels)"
    if (digits := json_integer_too_long(text)) is not None:
        return "json_number_too_long", (f"the request body holds an integer of {digits} digits; this server reads "
                                        f"integers of at most {MAX_INT_DIGITS}")
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

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_DEPTH, values: int = MAX_JSON_VALUES) -> None:
        self.app = app
        self.limit = limit
        self.values = values

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
        whole = messages[-1]["type"] == "http.request"
        problem = body_problem(b"".join(chunks), self.limit, self.values) if whole else None
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
        elif kind == "json_too_many_values":
            error["ctx"] = {"limit": self.values}
        body = json.dumps({"detail": message, "errors": [error]}, separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": 422, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class BodyRule:
    """What one request's body may be: at most ``max_bytes`` (None: the route counts its own), and whole within
    ``seconds`` of the request's start."""

    max_bytes: int | None
    seconds: float


class BodyRefused(HTTPException):
    """A body over its size (413) or slower than its time (408). An HTTPException, so that FastAPI's body
    parsing passes it on (it turns other errors into a 400) and the app answers it as JSON; the connection then
    closes, as the rest of the body is never read."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(status_code, detail, headers={"Connection": "close"})


def body_too_large(limit: int) -> BodyRefused:
    """The refusal of a body over ``limit`` bytes."""
    return BodyRefused(413, f"the request body is larger than this server accepts ({_size(limit)})")


def body_too_slow(seconds: float) -> BodyRefused:
    """The refusal of a body that did not arrive within ``seconds``."""
    return BodyRefused(408, f"the request body did not arrive within {seconds:g} s; send it at once")


def _size(limit: int) -> str:
    return f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit / 2**10:g} KiB" if limit >= 2**10 else f"{limit} bytes"


class BodyLimits:
    """Pure ASGI middleware: every request body is cut off past its rule's size (at once when Content-Length
    says so) and past its rule's time (a body that never finishes would otherwise hold its connection, and what
    it sent so far, for good). ``rule`` picks the rule from the request's scope. Only what the app reads is
    counted, as it reads it: nothing is buffered here."""

    def __init__(self, app: ASGIApp, rule: Callable[[Scope], BodyRule]) -> None:
        self.app = app
        self.rule = rule

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self.rule(scope)
        declared = _content_length(scope)
        if rule.max_bytes is not None and declared is not None and declared > rule.max_bytes:
            await _answer(send, body_too_large(rule.max_bytes))
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + rule.seconds
        received = 0
        complete = not (declared or _chunked(scope))  # no body to wait for
        started = False

        async def limited() -> Message:
            nonlocal received, complete
            if complete:  # after the body only http.disconnect comes, whenever the client leaves: no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise body_too_slow(rule.seconds) from None
            if message["type"] != "http.request":
                complete = True
                return message
            received += len(message.get("body", b""))
            if rule.max_bytes is not None and received > rule.max_bytes:
                raise body_too_large(rule.max_bytes)
            complete = not message.get("more_body", False)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if not complete and not any(name.lower() == b"connection" for name, _ in headers):
                    # Answered before the body was read (a route that takes none, a 404): to reach a next request
                    # on this connection the server would read, and drop, the rest of it, however long.
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyRefused as refusal:  # raised where no exception handler runs (an outer middleware read it)
            if started:
                raise
            await _answer(send, refusal)


def _chunked(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", ()))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _answer(send: Send, refusal: BodyRefused) -> None:
    body = json.dumps({"detail": refusal.detail}).encode()
    await send({"type": "http.response.start", "status": refusal.status_code, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})
