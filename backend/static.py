"""Static assets (scripts, styles, SVG, Plotly.js) served gzip-compressed to clients that accept it, and
cached for good by the browser when asked for under their content version.

Starlette's ``GZipMiddleware`` compresses every response afresh as it streams: the full Plotly.js (4.8 MB)
cost about 0.4 s of CPU per page load that way on a two-core machine. ServeStatic (WhiteNoise's ASGI fork)
serves only ``.gz`` files written beside the originals by a build step, one more thing to keep in step with
the sources. Here a file is compressed once per version (its mtime and size) and kept in memory; the
compressed body has an ETag of its own, so a revalidation is answered with a 304. A request with a ``Range``
header gets the file itself, so byte ranges keep meaning bytes of the file; only files served through here are
touched (never an API or SSE response).

Pages name each asset with its content hash (``/static/css/app.css?v=3f2a…``), and list every ES module so in
an import map, so that the modules' own relative imports resolve to versioned URLs too. A URL whose version
is the file's current one is immutable and cached for a year: a reload asks for nothing. Any other URL of the
file (no version, or an old one) is revalidated on every use, so nothing stale ever runs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
from pathlib import Path
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Receive, Scope, Send

COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
# Below about a kilobyte gzip saves less than a round of headers costs.
MIN_BYTES = 1024


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header admits gzip (named or through ``*``, with a q above zero)."""
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        weights[name.strip()] = quality
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


IMMUTABLE = "public, max-age=31536000, immutable"


class AssetVersions:
    """Each file's content version (a short SHA-256), recomputed only when the file changes, under ``directory``
    and then ``more`` directories, in the order the static files are looked up in."""

    def __init__(self, directory: str | os.PathLike[str], *more: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).resolve()
        self.directories = [self.directory, *(Path(other).resolve() for other in more)]
        self._digests: dict[Path, tuple[tuple[int, int], str]] = {}
        self._lock = threading.Lock()

    def _file(self, path: str | os.PathLike[str]) -> Path | None:
        """The file ``path`` names: relative, in the first directory that has it; absolute, inside one of them."""
        for directory in self.directories:
            full = (directory / path).resolve()
            if full.is_relative_to(directory) and full.is_file():
                return full
        return None

    def of(self, path: str | os.PathLike[str]) -> str | None:
        """The version of the file at ``path`` (relative to the directories, or absolute inside one); None when
        there is no such file."""
        full = self._file(path)
        if full is None:
            return None
        try:
            stat_result = full.stat()
        except OSError:
            return None
        version = (stat_result.st_mtime_ns, stat_result.st_size)
        with self._lock:
            cached = self._digests.get(full)
            if cached is None or cached[0] != version:
                cached = (version, hashlib.sha256(full.read_bytes()).hexdigest()[:16])
                self._digests[full] = cached
            return cached[1]

    def modules(self, folder: str = "js") -> list[str]:
        """Every ES module under ``folder``, as paths relative to the directory."""
        return sorted(path.relative_to(self.directory).as_posix() for path in (self.directory / folder).rglob("*.js"))

    @staticmethod
    def import_map(urls: dict[str, str]) -> str:
        """An import map (``{"imports": {plain URL: versioned URL}}``) safe to put inside a script element."""
        return json.dumps({"imports": urls}, separators=(",", ":")).replace("<", "\\u003c")


class GzipCache:
    """Each file's gzip body, made on first request and again only when the file changes."""

    def __init__(self) -> None:
        self._bodies: dict[str, tuple[tuple[int, int], bytes]] = {}
        self._lock = threading.Lock()

    def body(self, path: str, stat_result: os.stat_result) -> bytes:
        version = (stat_result.st_mtime_ns, stat_result.st_size)
        with self._lock:  # one compression per file even when its first requests arrive together
            cached = self._bodies.get(path)
            if cached is None or cached[0] != version:
                # mtime=0: the same file always gives the same bytes
                cached = (version, gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0))
                self._bodies[path] = cached
            return cached[1]


class GzipFileResponse(Response):
    """A file's cached gzip body; the compression (on a first request) runs off the event loop."""

    def __init__(self, path: str, stat_result: os.stat_result, cache: GzipCache, headers: dict[str, str],
                 status_code: int = 200) -> None:
        super().__init__(content=b"", status_code=status_code, headers=headers)
        self.path, self.stat_result, self.cache = path, stat_result, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await run_in_threadpool(self.cache.body, self.path, self.stat_result)
        self.headers["content-length"] = str(len(body))
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


class CompressedStaticFiles(StaticFiles):
    """Starlette's StaticFiles (ETag, Last-Modified, 304, Range, HEAD) with the file's gzip body for clients
    that take gzip, and ``cache_control`` on every file."""

    def __init__(self, *, directory: str | os.PathLike[str], cache_control: str,
                 versions: AssetVersions | None = None, packages: list[str | tuple[str, str]] | None = None) -> None:
        super().__init__(directory=directory, packages=packages)
        self.cache_control = cache_control
        self.versions = versions
        self.cache = GzipCache()

    def file_response(self, full_path, stat_result: os.stat_result, scope: Scope, status_code: int = 200) -> Response:
        request_headers = Headers(scope=scope)
        file = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        file.headers["cache-control"] = self._cache_control(full_path, scope)
        compressible = (file.media_type or "").startswith(COMPRESSIBLE) and stat_result.st_size >= MIN_BYTES
        if compressible:
            file.headers["vary"] = "Accept-Encoding"
        chosen: Response = file
        if compressible and "range" not in request_headers and accepts_gzip(request_headers.get("accept-encoding")):
            headers = {key: value for key, value in file.headers.items()
                       if key in ("content-type", "last-modified", "cache-control", "vary")}
            # The compressed body is another representation, so it gets another strong ETag.
            headers["etag"] = file.headers["etag"][:-1] + '-gzip"'
            headers["content-encoding"] = "gzip"
            chosen = GzipFileResponse(str(full_path), stat_result, self.cache, headers, status_code)
        if self.is_not_modified(chosen.headers, request_headers):
            return NotModifiedResponse(chosen.headers)
        return chosen

    def _cache_control(self, full_path: str | os.PathLike[str], scope: Scope) -> str:
        """Immutable when the URL names the file's current version, else the configured policy."""
        if self.versions is None:
            return self.cache_control
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [None])[-1]
        return IMMUTABLE if asked and asked == self.versions.of(full_path) else self.cache_control
