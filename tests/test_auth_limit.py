"""Wrong API tokens are counted per client address: past ``token_failures_allowed`` of them within the window,
every token from that address, the right one too, gets 429 with Retry-After until the window lets up, through
every way a token comes in (bearer, X-API-Token, the login cookie, the /login form). Right tokens and requests
without a token never count, other addresses are not affected, and memory stays bounded."""

from __future__ import annotations

import re
import threading
import time

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backend.auth import SESSION_COOKIE, session_value
from backend.auth_limit import FailedAttempts
from backend.main import create_app
from backend.settings import Settings

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"Authorization": "Bearer guess"}
# A token-checked read and write: a right token gets past the check (200, or 404 for a job that is not there).
READ = "/api/jobs"
WRITE = "/api/jobs/1/cancel"


def make_app(tmp_path, **settings):
    return create_app(Settings(data_dir=tmp_path, api_token=TOKEN, **settings))


def client_for(app, host: str = "testclient") -> TestClient:
    return TestClient(app, follow_redirects=False, client=(host, 50000))


def assert_locked(answer, window: float) -> None:
    """A 429 whose Retry-After is a whole number of seconds within the window, and which says why."""
    assert answer.status_code == 429, answer.text
    assert 1 <= int(answer.headers["retry-after"]) <= max(1, round(window))
    if answer.headers["content-type"].startswith("application/json"):
        detail = answer.json()["detail"]
        assert "too many wrong API tokens" in detail
        # the wait it states is Retry-After's, in words that agree with the number
        seconds = int(answer.headers["retry-after"])
        assert detail.endswith(f" for {seconds} more {'second' if seconds == 1 else 'seconds'}"), detail


def test_the_default_limit_locks_an_address_after_ten_wrong_tokens_a_minute(tmp_path):
    settings = Settings(data_dir=tmp_path, api_token=TOKEN)
    assert (settings.token_failures_allowed, settings.token_failure_window_seconds) == (10, 60.0)
    app = create_app(settings)
    client = client_for(app)
    assert client.get(READ, headers=BEARER).status_code == 200
    for _ in range(10):
        wrong = client.get(READ, headers=WRONG)
        assert wrong.status_code == 401 and "retry-after" not in wrong.headers
    assert_locked(client.get(READ, headers=WRONG), 60)
    # the right token is refused too while the address is locked: the answer tells nothing about the token
    assert_locked(client.get(READ, headers=BEARER), 60)
    assert_locked(client.post(WRITE, headers={"X-API-Token": TOKEN}), 60)
    # another address is not affected: its right token works and its wrong one is an ordinary 401
    other = client_for(app, "192.0.2.7")
    assert other.get(READ, headers=BEARER).status_code == 200
    assert other.post(WRITE, headers=BEARER).status_code == 404
    assert other.get(READ, headers=WRONG).status_code == 401


# Windows of a couple of seconds, so that a loaded machine's slow requests stay well inside them.
WINDOW = 2.0


def test_the_lock_lets_up_with_the_window(tmp_path):
    client = client_for(make_app(tmp_path, token_failures_allowed=3, token_failure_window_seconds=WINDOW))
    for _ in range(3):
        assert client.get(READ, headers=WRONG).status_code == 401
    assert_locked(client.get(READ, headers=BEARER), WINDOW)
    time.sleep(WINDOW + 0.2)
    assert client.get(READ, headers=BEARER).status_code == 200
    # the failures left the window with it: three more wrong tokens are let through before the next lock
    for _ in range(3):
        assert client.get(READ, headers=WRONG).status_code == 401
    assert_locked(client.get(READ, headers=WRONG), WINDOW)


def test_locked_attempts_do_not_prolong_the_lock(tmp_path):
    client = client_for(make_app(tmp_path, token_failures_allowed=2, token_failure_window_seconds=WINDOW))
    for _ in range(2):
        assert client.get(READ, headers=WRONG).status_code == 401
    locked_until = time.monotonic() + WINDOW  # at the latest: the first failure was counted before now
    while time.monotonic() < locked_until - WINDOW / 2:  # guessing on through the lock, uncounted
        assert client.get(READ, headers=WRONG).status_code == 429
    time.sleep(max(0.0, locked_until + 0.1 - time.monotonic()))
    # had the guesses through the lock counted, it would last until a window after the last of them
    assert client.get(READ, headers=BEARER).status_code == 200


def test_wrong_tokens_in_the_login_form_count_and_the_form_says_so(tmp_path):
    app = make_app(tmp_path, token_failures_allowed=3)
    client = client_for(app)
    for _ in range(3):
        wrong = client.post("/login", data={"token": "guess", "next": "/jobs"})
        assert wrong.status_code == 401 and "not this server&#39;s API token" in wrong.text
    refused = client.post("/login", data={"token": TOKEN, "next": "/jobs"})
    assert_locked(refused, 60)
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    error = re.search(r'id="login-error">([^<]*)<', refused.text)
    assert error and error.group(1).startswith("Too many wrong API tokens came from this address")
    assert '<form method="post"' in refused.text  # the form is still there to try again later
    # the form's failures lock the API too (one count per address), and the login page says so
    assert_locked(client.get(READ, headers=BEARER), 60)
    page = client.get("/login?next=/jobs")
    assert page.status_code == 200 and 'id="login-error">Too many wrong API tokens' in page.text
    # a page asked for with the right cookie while locked sends the browser to that login page
    locked_page = client.get("/jobs", cookies={SESSION_COOKIE: session_value(TOKEN)})
    assert locked_page.status_code == 303 and locked_page.headers["location"].startswith("/login?next=")
    assert client_for(app, "192.0.2.8").post("/login", data={"token": TOKEN}).status_code == 303


@pytest.mark.parametrize("way", ["cookie", "x-api-token", "page-cookie"])
def test_wrong_tokens_count_whichever_way_they_come(tmp_path, way):
    client = client_for(make_app(tmp_path, token_failures_allowed=3))
    for _ in range(3):
        if way == "cookie":
            assert client.get(READ, cookies={SESSION_COOKIE: "0" * 64}).status_code == 401
        elif way == "x-api-token":
            assert client.post(WRITE, headers={"X-API-Token": "guess"}).status_code == 401
        else:
            page = client.get("/jobs", cookies={SESSION_COOKIE: session_value("a former token")})
            assert page.status_code == 303
            # the wrong cookie is dropped, so that the browser's other tabs stop sending it
            assert re.search(rf'{SESSION_COOKIE}="?"?; .*Max-Age=0', page.headers["set-cookie"], re.I)
    assert_locked(client.get(READ, headers=BEARER), 60)
    assert_locked(client.get(READ, cookies={SESSION_COOKIE: session_value(TOKEN)}), 60)
    assert_locked(client.post("/login", data={"token": TOKEN}), 60)


def test_right_tokens_and_requests_without_one_never_count(tmp_path):
    client = client_for(make_app(tmp_path, token_failures_allowed=3))
    cookie = {SESSION_COOKIE: session_value(TOKEN)}
    for _ in range(2):
        assert client.get(READ, headers=WRONG).status_code == 401
    for _ in range(20):
        assert client.get(READ, headers=BEARER).status_code == 200
        assert client.get(READ, cookies=cookie).status_code == 200
        assert client.post("/login", data={"token": TOKEN}).status_code == 303
        client.cookies.clear()
        assert client.get(READ).status_code == 401  # no token: nothing to count
        assert client.get(READ, headers={"Authorization": "Bearer "}).status_code == 401  # an empty one neither
        assert client.get("/jobs").status_code == 303
        assert client.get("/login").status_code == 200
    # two wrong so far: the third is still an ordinary 401, the fourth is refused
    assert client.get(READ, headers=WRONG).status_code == 401
    assert_locked(client.get(READ, headers=WRONG), 60)


def test_open_reads_are_not_token_checks(tmp_path):
    client = client_for(make_app(tmp_path, token_failures_allowed=2, open_reads=True))
    for _ in range(10):
        assert client.get(READ).status_code == 200
        assert client.get(READ, headers=WRONG).status_code == 200  # reads are open: the token is not looked at
        assert client.get("/jobs").status_code == 200
    assert client.post(WRITE, headers=BEARER).status_code == 404
    for _ in range(2):
        assert client.post(WRITE, headers=WRONG).status_code == 401
    assert_locked(client.post(WRITE, headers=BEARER), 60)
    # reads stay open to the locked address (without its token), and the pages still render
    assert client.get(READ).status_code == 200
    page = client.get("/jobs", cookies={SESSION_COOKIE: session_value(TOKEN)})
    assert page.status_code == 200


def test_health_answers_a_locked_address_as_one_without_the_token(tmp_path):
    client = client_for(make_app(tmp_path, token_failures_allowed=2))
    assert client.get("/api/health", headers=BEARER).json()["workers"] is not None
    for _ in range(2):
        assert client.get("/api/health", headers=WRONG).json()["workers"] is None  # a wrong token there counts too
    health = client.get("/api/health", headers=BEARER)
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["workers"] is None
    assert_locked(client.get(READ, headers=BEARER), 60)


# Odd headers, and whether they carry a token (a wrong one, which counts) or none (never counted).
ODD_HEADERS = [
    ({"Authorization": "Bearer " + "x" * 60_000}, True),
    ({"X-API-Token": "y" * 60_000}, True),
    ({"Authorization": "Bearer ключ".encode()}, True),
    ({"Authorization": b"Bearer \xff\xfe\x80"}, True),
    ({"X-API-Token": "cl\u00e9".encode("latin-1")}, True),
    ({"Cookie": f"{SESSION_COOKIE}=\u00e9\u00e8".encode("latin-1")}, True),
    ({"Cookie": f"{SESSION_COOKIE}=" + "c" * 60_000}, True),
    ({"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer guess"}, True),
    ({"Authorization": "Basic " + "z" * 100}, False),
    ({"Authorization": "bearer\t" + TOKEN}, False),
    ({"Cookie": f"{SESSION_COOKIE}="}, False),
]


@pytest.mark.parametrize(("headers", "token"), ODD_HEADERS, ids=range(len(ODD_HEADERS)))
def test_odd_headers_get_a_4xx_and_no_5xx(tmp_path, headers, token):
    client = client_for(make_app(tmp_path, token_failures_allowed=2))
    answers = [client.get(READ, headers=headers) for _ in range(4)]
    assert [answer.status_code for answer in answers] == ([401, 401, 429, 429] if token else [401] * 4)
    answers += [client.post(WRITE, headers=headers), client.get("/jobs", headers=headers),
                client.get("/api/health", headers=headers)]
    assert all(answer.status_code < 500 for answer in answers), [a.status_code for a in answers]


@pytest.mark.parametrize(("body", "statuses"), [
    (b"token=%FF%FE%80&next=%2F", [401, 401, 429, 429]),
    (b"token=%ED%A0%80", [401, 401, 429, 429]),  # a surrogate's UTF-8 bytes
    ("token=ключ".encode(), [401, 401, 429, 429]),
    (b"token=" + b"t" * 5000, [422] * 4),  # longer than any token the form takes: refused before the check
    (b"next=%2F", [422] * 4),
])
def test_odd_login_forms_get_a_4xx_and_no_5xx(tmp_path, body, statuses):
    client = client_for(make_app(tmp_path, token_failures_allowed=2))
    answers = [client.post("/login", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
               for _ in statuses]
    assert [answer.status_code for answer in answers] == statuses


def test_a_forwarded_for_header_is_not_the_address(tmp_path):
    """X-Forwarded-For is not trusted by the app (uvicorn decides, for proxies it is told of): naming another
    address in it neither escapes a lock nor locks that address."""
    app = make_app(tmp_path, token_failures_allowed=2)
    client = client_for(app)
    for number in range(2):
        assert client.get(READ, headers={**WRONG, "X-Forwarded-For": f"203.0.113.{number}"}).status_code == 401
    assert_locked(client.get(READ, headers={**BEARER, "X-Forwarded-For": "203.0.113.50"}), 60)
    assert client_for(app, "203.0.113.0").get(READ, headers=BEARER).status_code == 200


def test_the_openapi_document_declares_the_429_where_the_token_is_checked(tmp_path):
    document = make_app(tmp_path).openapi()
    operations = [operation for item in document["paths"].values() for operation in item.values()]
    checked = [operation for operation in operations if "security" in operation]
    assert checked and all("429" in operation["responses"] for operation in checked)
    assert all("429" not in operation["responses"] for operation in operations if "security" not in operation)
    locked = checked[0]["responses"]["429"]
    assert "Retry-After" in locked["headers"]
    assert locked["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorMessage"
    assert "ErrorMessage" in document["components"]["schemas"]


@pytest.mark.parametrize("settings", [{"token_failures_allowed": 0}, {"token_failure_window_seconds": 0},
                                      {"token_failure_window_seconds": -1}, {"token_failure_addresses": 0}])
def test_the_settings_are_validated(tmp_path, settings):
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, **settings)


# --- the table itself, on a clock of the test's own ---------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_moves_with_the_oldest_failure():
    clock = Clock()
    attempts = FailedAttempts(allowed=3, window=60, addresses=10, clock=clock)
    for offset in (0, 10, 20):
        clock.now = 1000 + offset
        assert attempts.attempt("a", right=False) is None
    assert attempts.attempt("a", right=True) == pytest.approx(40)  # the oldest failure leaves at 1060
    clock.now = 1059.5
    assert attempts.locked_for("a") == pytest.approx(0.5)
    clock.now = 1060.01
    assert attempts.locked_for("a") is None
    assert attempts.attempt("a", right=False) is None  # one more: the failures at 1010, 1020 and this one
    assert attempts.locked_for("a") == pytest.approx(9.99)
    clock.now = 2000
    assert attempts.attempt("a", right=True) is None and attempts.locked_for("a") is None


def test_memory_stays_bounded_however_many_addresses_fail():
    clock = Clock()
    attempts = FailedAttempts(allowed=2, window=60, addresses=100, clock=clock)
    for _ in range(2):
        attempts.attempt("early", right=False)
    assert attempts.locked_for("early") is not None
    for number in range(20_000):
        attempts.attempt(f"10.{number // 65536}.{number // 256 % 256}.{number % 256}", right=False)
        assert len(attempts) <= 100
    # right tokens and checks remember nothing
    for number in range(1000):
        attempts.attempt(f"right-{number}", right=True)
        attempts.locked_for(f"check-{number}")
    assert len(attempts) <= 100
    # the address that failed least recently was forgotten past the bound; the most recent ones are remembered
    assert attempts.locked_for("early") is None
    attempts.attempt("10.0.78.31", right=False)  # the last of the 20,000: its second failure
    assert attempts.locked_for("10.0.78.31") is not None


def test_parallel_guesses_get_no_more_than_the_limit():
    attempts = FailedAttempts(allowed=5, window=60, addresses=10)
    let_through = []
    start = threading.Barrier(8)

    def guess() -> None:
        start.wait()
        for _ in range(50):
            if attempts.attempt("a", right=False) is None:
                let_through.append(1)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(let_through) == 5
