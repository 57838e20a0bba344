"""Static assets go out gzip-compressed once per file version, with ETags that let a reload revalidate; pages
name them under their content version, which browsers may cache for good."""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from addrop.figure_style import FIGURE_STYLE
from backend import static
from backend.main import create_app
from backend.settings import Settings
from backend.static import IMMUTABLE, AssetVersions, CompressedStaticFiles, accepts_gzip
from frontend import STATIC_DIR

SCRIPT = ("export const answer = () => 42;  // padding that compresses well\n" * 400).encode()


def raw(client: TestClient, path: str, **headers: str):
    """The response and its body as sent (httpx would otherwise decompress it)."""
    with client.stream("GET", path, headers=headers) as response:
        return response, b"".join(response.iter_raw())


@pytest.fixture
def files(tmp_path):
    (tmp_path / "app.js").write_bytes(SCRIPT)
    (tmp_path / "tiny.css").write_text("body{margin:0}")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG" + bytes(4000))
    (tmp_path / "map.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'>" + "<rect width='1' height='1'/>" * 100 + "</svg>")
    app = FastAPI()
    app.mount("/static", CompressedStaticFiles(directory=tmp_path, cache_control="no-cache"))
    with TestClient(app) as client:
        yield client, tmp_path


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip, deflate, br, zstd", True), ("GZIP", True), ("br;q=1.0, gzip;q=0.8", True), ("*", True),
    ("x-gzip", True), (None, False), ("", False), ("identity", False), ("br", False), ("gzip;q=0", False),
    ("*, gzip;q=0", False), ("gzip;q=0.000", False), ("gzip;q=oops", False),
])
def test_accept_encoding_is_read_with_its_weights(header, expected):
    assert accepts_gzip(header) is expected


def test_a_script_is_compressed_once_and_revalidates(files, monkeypatch):
    client, _ = files
    calls = []
    compress = gzip.compress
    monkeypatch.setattr(static.gzip, "compress", lambda data, **kw: calls.append(len(data)) or compress(data, **kw))
    first, body = raw(client, "/static/app.js", **{"Accept-Encoding": "gzip, br"})
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == SCRIPT and len(body) < len(SCRIPT) / 10
    assert int(first.headers["content-length"]) == len(body)
    assert first.headers["vary"] == "Accept-Encoding" and first.headers["cache-control"] == "no-cache"
    assert first.headers["content-type"].startswith("text/javascript")
    again, body_again = raw(client, "/static/app.js", **{"Accept-Encoding": "gzip"})
    assert body_again == body and again.headers["etag"] == first.headers["etag"]
    assert calls == [len(SCRIPT)]  # the second answer came from the cache

    plain, plain_body = raw(client, "/static/app.js", **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain_body == SCRIPT
    assert plain.headers["vary"] == "Accept-Encoding" and plain.headers["etag"] != first.headers["etag"]

    # A reload sends the ETag it holds and gets a 304 for the same representation only.
    cached = client.get("/static/app.js", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == first.headers["etag"]
    assert client.get("/static/app.js", headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]}
                      ).status_code == 304
    cross = client.get("/static/app.js", headers={"Accept-Encoding": "identity", "If-None-Match": first.headers["etag"]})
    assert cross.status_code == 200 and cross.content == SCRIPT


def test_svg_is_compressed(files):
    client, _ = files
    response, body = raw(client, "/static/map.svg", **{"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip" and gzip.decompress(body).startswith(b"<svg")


def test_a_changed_file_is_compressed_again(files):
    client, folder = files
    first, _ = raw(client, "/static/app.js", **{"Accept-Encoding": "gzip"})
    changed = SCRIPT + b"export const more = 1;\n"
    (folder / "app.js").write_bytes(changed)
    second, body = raw(client, "/static/app.js", **{"Accept-Encoding": "gzip"})
    assert gzip.decompress(body) == changed and second.headers["etag"] != first.headers["etag"]


def test_range_and_head_still_work(files):
    client, _ = files
    part = client.get("/static/app.js", headers={"Accept-Encoding": "gzip", "Range": "bytes=7-18"})
    assert part.status_code == 206 and part.content == SCRIPT[7:19] and "content-encoding" not in part.headers
    head = client.head("/static/app.js", headers={"Accept-Encoding": "gzip"})
    full, body = raw(client, "/static/app.js", **{"Accept-Encoding": "gzip"})
    assert head.status_code == 200 and head.content == b"" and head.headers["content-encoding"] == "gzip"
    assert head.headers["content-length"] == str(len(body)) and head.headers["etag"] == full.headers["etag"]
    assert client.head("/static/app.js", headers={"Accept-Encoding": "identity"}).headers["content-length"] == str(len(SCRIPT))


def test_images_and_tiny_files_go_as_they_are(files):
    client, _ = files
    for path in ("/static/logo.png", "/static/tiny.css"):
        response, body = raw(client, path, **{"Accept-Encoding": "gzip"})
        assert response.status_code == 200 and "content-encoding" not in response.headers, path
        assert "vary" not in response.headers and response.headers["cache-control"] == "no-cache"


PLOTLY = "/static/vendor/plotly.js-cartesian-dist-min/plotly-cartesian.min.js"


def test_the_app_compresses_plotly_and_its_own_assets_but_not_the_api(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        plotly, body = raw(client, PLOTLY, **{"Accept-Encoding": "gzip"})
        size = (STATIC_DIR / "vendor" / "plotly.js-cartesian-dist-min" / "plotly-cartesian.min.js").stat().st_size
        assert plotly.headers["content-encoding"] == "gzip" and len(body) < size / 2
        assert plotly.headers["etag"]
        assert client.get(PLOTLY, headers={"If-None-Match": plotly.headers["etag"]}).status_code == 304
        plain = client.head(PLOTLY, headers={"Accept-Encoding": "identity"})
        assert plain.headers["content-length"] == str(size)
        for path in ("/static/js/explorer/main.js", "/static/css/app.css"):
            response, _ = raw(client, path, **{"Accept-Encoding": "gzip"})
            assert response.headers.get("content-encoding") == "gzip", path
        health, _ = raw(client, "/api/health", **{"Accept-Encoding": "gzip"})
        assert "content-encoding" not in health.headers


def test_every_page_runs_the_vendored_plotly_bundle_and_its_traces_are_in_it(tmp_path):
    """The pages load Plotly's cartesian bundle (a third of the full library); every trace type the pages'
    modules draw must be one it carries, and the files say which release it is."""
    folder = STATIC_DIR / "vendor" / "plotly.js-cartesian-dist-min"
    bundle = (folder / "plotly-cartesian.min.js").read_text()
    vendored = json.loads((folder / "package.json").read_text())["version"]
    assert f"plotly.js (cartesian - minified) v{vendored}" in bundle[:200]
    assert f"plotly.js-cartesian-dist-min {vendored}" in (folder / "README.md").read_text()
    assert (folder / "LICENSE").read_text().startswith("MIT License")
    used = {match for path in (STATIC_DIR / "js").rglob("*.js")
            for match in re.findall(r"\btype: \"(heatmap|scatter\w*|bar|pie|histogram\w*|contour|box|violin|parcoords|"
                                    r"splom|table|sankey|surface|mesh3d|scattergl|image)\"", path.read_text())}
    carried = set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle))
    assert {"heatmap", "scatter", "bar"} <= carried
    assert used and used <= carried, used - carried
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        for page in ("/", "/jobs", "/jobs/new", "/jobs/compare", "/sweeps", "/sweeps/new"):
            html = client.get(page).text
            assert PLOTLY in html and "plotly.min.js" not in html, page


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_pages_name_every_asset_and_module_by_its_content_and_those_urls_are_immutable(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        for page in ("/", "/jobs", "/jobs/new", "/sweeps/new"):
            html = client.get(page).text
            urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
            assert urls and all("?v=" in url for url in urls), (page, urls)
            for url in urls:
                path, version = url.removeprefix("/static/").split("?v=")
                assert version == sha(STATIC_DIR / path), url  # the version is the file's content
                assert client.get(url).headers["cache-control"] == IMMUTABLE, url
            imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html).group(1))["imports"]
            modules = sorted(p.relative_to(STATIC_DIR).as_posix() for p in (STATIC_DIR / "js").rglob("*.js"))
            assert sorted(imports) == sorted([f"/static/{m}" for m in modules] + ["#figure-style"])
            assert all(imports[f"/static/{m}"] == f"/static/{m}?v={sha(STATIC_DIR / m)}" for m in modules)
            # the figures' definition lives in addrop and is served beside the web app's files
            assert imports["#figure-style"] == f"/static/figure-style.json?v={sha(FIGURE_STYLE)}"
            assert client.get(imports["#figure-style"]).headers["cache-control"] == IMMUTABLE
            assert html.index('type="importmap"') < html.index('type="module"')  # a map after a module is ignored
        # the same file under no version or an old one is revalidated, so an old URL never pins old code
        assert client.get("/static/css/app.css").headers["cache-control"] == "no-cache"
        assert client.get("/static/css/app.css?v=0123456789abcdef").headers["cache-control"] == "no-cache"


def test_a_changed_file_gets_a_new_version_and_its_old_url_stops_being_immutable(tmp_path):
    (tmp_path / "js").mkdir()
    module = tmp_path / "js" / "a.js"
    module.write_text("export const a = 1;\n")
    versions = AssetVersions(tmp_path)
    app = FastAPI()
    app.mount("/static", CompressedStaticFiles(directory=tmp_path, cache_control="no-cache", versions=versions))
    with TestClient(app) as client:
        old = versions.of("js/a.js")
        assert old == sha(module) and versions.modules() == ["js/a.js"]
        assert client.get(f"/static/js/a.js?v={old}").headers["cache-control"] == IMMUTABLE
        module.write_text("export const a = 2;  // changed\n")
        new = versions.of("js/a.js")
        assert new == sha(module) != old
        assert client.get(f"/static/js/a.js?v={new}").headers["cache-control"] == IMMUTABLE
        assert client.get(f"/static/js/a.js?v={old}").headers["cache-control"] == "no-cache"
    (tmp_path.parent / "outside.js").write_text("secret")
    assert versions.of("js/missing.js") is None and versions.of("../outside.js") is None
    assert "</script" not in AssetVersions.import_map({"/static/</script>.js": "/x"})
