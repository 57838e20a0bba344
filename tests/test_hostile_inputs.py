"""No input produces a 5xx: non-finite numbers, lone surrogates, out-of-range integers, oversized CSV fields
and deeply nested JSON each get a 4xx whose message names the field, and nothing is stored.

The app runs in-process (TestClient, ``raise_server_exceptions=False`` so a crash shows as a 500) on a
temporary data directory with the embedded broker and no worker: a valid job is only queued."""

from __future__ import annotations

import json
import math
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend import bodies, errors
from backend.main import create_app
from backend.settings import Settings
from backend.schemas.sweeps import SweepCreate
from jobstore.orm import Job, Sweep, Upload
from tests.jobs_stack import postgres_schema

BIG = 2**63  # one more than the largest 64-bit row id
VALID_JOB = '"model": "minilm", "data": {"task": "sst2"}'


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=["minilm"])
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def job_id(client, sst2_dir) -> int:
    """One stored (queued) job, so that routes reach their query parameters."""
    data = {"source": "directory", "task": "sst2", "data_dir": str(sst2_dir)}
    answer = client.post("/api/jobs", json={"model": "minilm", "data": data, "training": {"epochs": 1}})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def counts(client) -> dict[str, int]:
    """Rows in the tables a refused request must not touch, and files under the uploads directory."""
    state = client.app.state
    with state.jobs.db.session() as session:
        rows = {table.__tablename__: session.scalar(select(func.count()).select_from(table))
                for table in (Job, Sweep, Upload)}
    uploads = state.settings.uploads_dir
    rows["upload files"] = sum(1 for _ in uploads.rglob("*")) if uploads.exists() else 0
    return rows


def strict_json(text: str):
    """Parse as standard JSON: NaN, Infinity and lone surrogates are not JSON a client can rely on."""
    def refuse(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")

    value = json.loads(text, parse_constant=refuse)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    return value


def refused(client, answer, before: dict[str, int], *names: str, status: int = 422) -> str:
    """Assert a clear refusal: the status, a standard JSON body whose detail names every field in ``names``,
    and no new job, sweep or upload; return the detail."""
    assert answer.status_code == status, (answer.status_code, answer.text[:500])
    body = strict_json(answer.text)
    assert isinstance(body["detail"], str), body
    for name in names:
        assert name in body["detail"], (name, body["detail"])
    assert counts(client) == before
    return body["detail"]


def post_raw(client, path: str, text: str):
    """POST ``text`` as the JSON body, exactly as written (Python's json reads NaN, Infinity and 1e400)."""
    return client.post(path, content=text.encode("ascii"), headers={"Content-Type": "application/json"})


# --- non-finite numbers -----------------------------------------------------------------------------------

NON_FINITE = [
    ("/api/explain", '{"text": "a cat", "p": NaN}', "p"),
    ("/api/explain", '{"text": "a cat", "q": Infinity}', "q"),
    ("/api/explain", '{"text": "a cat", "p": -Infinity}', "p"),
    ("/api/explain", '{"text": "a cat", "seed": 1e400}', "seed"),
    ("/api/explain", '{"text": "a cat", "steps": NaN, "method": "IGA"}', "steps"),
    ("/api/jobs", '{%s, "training": {"learning_rate": NaN}}' % VALID_JOB, "training.learning_rate"),
    ("/api/jobs", '{%s, "training": {"seed": 1e400}}' % VALID_JOB, "training.seed"),
    ("/api/jobs", '{%s, "training": {"weight_decay": Infinity}}' % VALID_JOB, "training.weight_decay"),
    ("/api/jobs", '{%s, "addrop": {"p": Infinity}}' % VALID_JOB, "addrop.p"),
    ("/api/jobs", '{"model": "minilm", "data": {"task": "sst2", "max_train_samples": 1e400}}',
     "data.max_train_samples"),
    ("/api/sweeps", '{"base": {%s}, "space": {"p": [0.1, NaN]}}' % VALID_JOB, "space.p"),
    ("/api/sweeps", '{"base": {%s}, "space": {"q": [Infinity]}}' % VALID_JOB, "space.q"),
    ("/api/sweeps", '{"base": {%s}, "seeds": [1e400]}' % VALID_JOB, "seeds"),
    ("/api/sweeps", '{"base": {%s, "training": {"learning_rate": NaN}}}' % VALID_JOB, "base.training.learning_rate"),
    ("/api/sweeps", '{"base": {%s}, "pruning": {"kind": "percentile", "percentile": NaN}}' % VALID_JOB,
     "pruning.percentile"),
    ("/api/sweeps", '{"base": {%s}, "strategy": "tpe", "prior": [{"params": {"p": NaN, "q": 0.2}, "values": [0.5]}]}'
     % VALID_JOB, "prior.0.params"),
    ("/api/sweeps", '{"base": {%s}, "strategy": "tpe", "prior": [{"params": {"p": 0.1, "q": 0.1}, "values": [NaN]}]}'
     % VALID_JOB, "prior.0.values"),
]


@pytest.mark.parametrize(("path", "body", "field"), NON_FINITE)
def test_non_finite_numbers_are_refused_by_name(client, path, body, field):
    before = counts(client)
    detail = refused(client, post_raw(client, path, body), before, field)
    # a count (seed, steps, samples) takes JSON integers only, which NaN and 1e400 are not
    assert "finite" in detail or "valid integer" in detail or "is not in the space" in detail, detail


# --- lone surrogates --------------------------------------------------------------------------------------

SURROGATE = r"\ud800"
LONE_SURROGATES = [
    ("/api/explain", '{"text": "a %s cat"}' % SURROGATE, "text"),
    ("/api/explain", '{"text": "a cat", "text_pair": "%s"}' % SURROGATE, "text_pair"),
    ("/api/explain", '{"text": "a cat", "model": "mini%s"}' % SURROGATE, "model"),
    ("/api/jobs", '{"name": "run %s", %s}' % (SURROGATE, VALID_JOB), "name"),
    ("/api/jobs", '{"model": "%s", "data": {"task": "sst2"}}' % r"\udfff", "model"),
    ("/api/jobs", '{"data": {"task": "sst2%s"}}' % SURROGATE, "data.task"),
    ("/api/jobs", '{"data": {"source": "directory", "task": "sst2", "data_dir": "/data/%s"}}' % SURROGATE,
     "data.data_dir"),
    ("/api/jobs", '{"data": {"source": "upload", "task": "mine", "task_kind": "classification", '
                  '"train_upload": "%s", "validation_upload": "x"}}' % SURROGATE, "data.train_upload"),
    ("/api/jobs", '{"data": {"source": "upload", "task": "mine", "task_kind": "classification", '
                  '"train_upload": "x", "validation_upload": "x", "text_fields": ["%s"]}}' % SURROGATE,
     "data.text_fields.0"),
    ("/api/jobs", '{"data": {"task": "sst2", "label_field": "%s"}}' % SURROGATE, "data.label_field"),
    ("/api/jobs", '{"data": {"task": "sst2", "label_names": ["neg", "%s"]}}' % SURROGATE, "data.label_names.1"),
    ("/api/sweeps", '{"name": "%s", "base": {%s}}' % (SURROGATE, VALID_JOB), "name"),
    ("/api/sweeps", '{"base": {"name": "%s", %s}}' % (SURROGATE, VALID_JOB), "base.name"),
    ("/api/sweeps", '{"base": {"model": "%s", "data": {"task": "sst2"}}}' % SURROGATE, "base.model"),
]


@pytest.mark.parametrize(("path", "body", "field"), LONE_SURROGATES)
def test_lone_surrogates_are_refused_by_name(client, path, body, field):
    before = counts(client)
    detail = refused(client, post_raw(client, path, body), before, f"{field}: ")
    assert "surrogate" in detail, detail


# The same fields with a NUL character: JSON can escape it, but no file name holds it, and PostgreSQL's text
# columns refuse it (a job or sweep named so was a 500 there).
NUL_CHARACTERS = [(path, body.replace(SURROGATE, r"\u0000").replace(r"\udfff", r"\u0000"), field)
                  for path, body, field in LONE_SURROGATES]


@pytest.mark.parametrize(("path", "body", "field"), NUL_CHARACTERS)
def test_nul_characters_are_refused_by_name(client, path, body, field):
    before = counts(client)
    detail = refused(client, post_raw(client, path, body), before, f"{field}: ")
    assert "NUL character" in detail, detail


def test_a_job_or_sweep_named_with_a_nul_character_is_refused_on_postgresql(tmp_path, sst2_dir):
    data = {"source": "directory", "task": "sst2", "data_dir": str(sst2_dir)}
    job = {"name": "run\x00", "model": "minilm", "data": data}
    with postgres_schema("hostile") as url:
        settings = Settings(data_dir=tmp_path, models=["minilm"], database_url=url)
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            before = counts(client)
            refused(client, client.post("/api/jobs", json=job), before, "name: ", "NUL character")
            refused(client, client.post("/api/sweeps", json={"name": "grid\x00", "base": {**job, "name": None}}),
                    before, "name: ", "NUL character")


@pytest.mark.parametrize(("path", "body", "name"), [
    ("/api/explain", '{"text": "a cat", "layers": {"%s": 1}}' % SURROGATE, "layers"),
    ("/api/jobs", '{"%s": 1, %s}' % (SURROGATE, VALID_JOB), SURROGATE),
    ("/api/sweeps", '{"base": {%s}, "space": {"p%s": [0.1]}}' % (VALID_JOB, SURROGATE), "space.p" + SURROGATE),
])
def test_a_lone_surrogate_echoed_in_the_error_is_escaped(client, path, body, name):
    # The input (or a key of it) lands in the error's location, message and ``input``: the answer must
    # still be standard JSON, with the surrogate written out as text.
    before = counts(client)
    refused(client, post_raw(client, path, body), before, name)


def test_surrogate_pairs_are_ordinary_text(client, job_id, sst2_dir):
    data = {"source": "directory", "task": "sst2", "data_dir": str(sst2_dir)}
    answer = client.post("/api/jobs", json={"name": "smile \U0001F600", "model": "minilm", "data": data})
    assert answer.status_code == 201 and answer.json()["name"] == "smile \U0001F600"
    client.post(f"/api/jobs/{answer.json()['id']}/cancel")


# --- names the file system cannot hold -------------------------------------------------------------------

# Linux holds a path part of at most 255 bytes (NAME_MAX) and a path of at most 4096 (PATH_MAX); past them a look
# at the disk raises "File name too long" where a missing path gives False.
NAME_MAX = 255


def path_requests(value: str, sst2_dir) -> list[tuple[str, str, dict | None, str]]:
    """Every request that looks ``value`` up on the disk, as (method, url, body, the field its answer names)."""
    job = {"model": value, "data": {"source": "directory", "task": "sst2", "data_dir": str(sst2_dir)}}
    directory = {"model": "minilm", "data": {"source": "directory", "task": "sst2", "data_dir": f"{sst2_dir.parent}/{value}"}}
    return [
        ("POST", "/api/jobs", job, "model"),
        ("POST", "/api/jobs", directory, "data.data_dir"),
        ("POST", "/api/sweeps", {"base": job}, "model"),
        ("POST", "/api/sweeps", {"base": directory}, "data.data_dir"),
        ("GET", "/api/presets/authors?task=cola&model=" + value, None, "model"),
    ]


@pytest.mark.parametrize("length", [NAME_MAX, NAME_MAX + 1, 5_000])
@pytest.mark.parametrize("char", ["m", "\u00e9"])  # one byte in UTF-8, and two
def test_path_parts_too_long_for_the_file_system_are_refused_by_name(client, sst2_dir, length, char):
    value = char * length
    for method, url, body, field in path_requests(value, sst2_dir):
        before = counts(client)
        detail = refused(client, client.request(method, url, json=body), before, field)
        capped = field == "model" and length > 500  # the schema caps a model name at 500 characters
        if len(value.encode()) > NAME_MAX and not capped:
            assert "File name too long" in detail, (url, detail)
            assert value not in detail, url  # the reason, not the path


def test_a_path_longer_than_the_system_allows_is_refused_by_name(client):
    deep = "/" + "/".join(["p" * 200] * 25)  # every part fits; the whole is over 4096 bytes
    before = counts(client)
    answer = client.post("/api/jobs", json={"model": "minilm", "data": {"source": "directory", "task": "sst2",
                                                                         "data_dir": deep}})
    assert "File name too long" in refused(client, answer, before, "data.data_dir")


def test_a_home_directory_of_no_user_is_refused_by_name(client):
    before = counts(client)
    answer = client.post("/api/jobs", json={"model": "minilm", "data": {"source": "directory", "task": "sst2",
                                                                         "data_dir": "~no-such-user-here/glue"}})
    assert "names no user" in refused(client, answer, before, "data.data_dir")


# --- one strictness for every request body ---------------------------------------------------------------

JOB = {"model": "minilm", "data": {"task": "sst2"}}
LOOSE = [  # a number as a string, a boolean as a string, a count as a float, and a field the schema lacks
    ("/api/explain", {"text": "a cat", "p": "0.3"}, "p"),
    ("/api/explain", {"text": "a cat", "seed": "1"}, "seed"),
    ("/api/explain", {"text": "a cat", "steps": 2.0, "method": "IGA"}, "steps"),
    ("/api/explain", {"text": "a cat", "layers": ["0"]}, "layers.0"),
    ("/api/explain", {"text": "a cat", "colour": "red"}, "colour"),
    ("/api/jobs", {**JOB, "addrop": {"p": "0.3"}}, "addrop.p"),
    ("/api/jobs", {**JOB, "addrop": {"enabled": "yes"}}, "addrop.enabled"),
    ("/api/jobs", {**JOB, "training": {"epochs": "3"}}, "training.epochs"),
    ("/api/jobs", {**JOB, "training": {"epochs": 3.0}}, "training.epochs"),
    ("/api/jobs", {**JOB, "colour": "red"}, "colour"),
    ("/api/sweeps", {"base": JOB, "space": {"p": ["0.3"]}}, "space.p.0"),
    ("/api/sweeps", {"base": JOB, "seeds": ["42"]}, "seeds.0"),
    ("/api/sweeps", {"base": JOB, "baseline": "false"}, "baseline"),
    ("/api/sweeps", {"base": {**JOB, "training": {"batch_size": 16.0}}}, "base.training.batch_size"),
    ("/api/sweeps", {"base": JOB, "colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("path", "body", "field"), LOOSE)
def test_every_request_body_is_held_to_one_strictness(client, path, body, field):
    before = counts(client)
    refused(client, client.post(path, json=body), before, f"{field}: ")


def test_json_numbers_still_fill_every_numeric_field(client, sst2_dir):
    # An integer is a number: 0 is a weight decay, 1 a learning rate's upper neighbour would be refused by range.
    data = {"source": "directory", "task": "sst2", "data_dir": str(sst2_dir)}
    answer = client.post("/api/jobs", json={"model": "minilm", "data": data,
                                            "training": {"weight_decay": 0, "warmup_ratio": 0, "epochs": 1}})
    assert answer.status_code == 201, answer.text
    client.post(f"/api/jobs/{answer.json()['id']}/cancel")


def test_a_prior_trial_s_epochs_may_be_json_object_keys():
    # JSON writes an object's keys as text: {"1": 0.8} is epoch 1, in a request and in the stored sweep alike.
    body = {"base": JOB, "strategy": "tpe", "space": {"p": [0.1, 0.3], "q": [0.2]},
            "prior": [{"params": {"p": 0.1, "q": 0.2}, "values": [0.8], "intermediate": {"1": 0.7, "2": 0.8}}]}
    spec = SweepCreate.model_validate(json.loads(json.dumps(body)))
    assert spec.prior[0].intermediate == {1: 0.7, 2: 0.8}
    assert SweepCreate.model_validate(spec.model_dump(mode="json")) == spec


# --- huge inputs are not echoed ---------------------------------------------------------------------------

HUGE = "m" * 100_000


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/explain", {"text": "a cat", "model": HUGE}, "model"),
    ("/api/jobs", {**JOB, "model": HUGE}, "model"),
    ("/api/jobs", {**JOB, "name": HUGE}, "name"),
    ("/api/jobs", {**JOB, HUGE: 1}, "m" * 200 + "…"),
    ("/api/sweeps", {"base": JOB, "space": {"p": [HUGE]}}, "space.p.0"),
])
def test_a_huge_input_is_refused_without_echoing_it(client, path, body, field):
    before = counts(client)
    answer = client.post(path, json=body)
    refused(client, answer, before, field)
    assert len(answer.content) < 2_000, len(answer.content)


MANY = 9_000  # unknown fields: a body of fewer values than the body guard's cap (backend.bodies.MAX_JSON_VALUES)


@pytest.mark.parametrize(("path", "body", "first", "problems"), [
    ("/api/jobs", {**JOB, "data": {"task": "sst2", "label_names": [1] * 1000}}, "data.label_names.0", 1000),
    ("/api/jobs", {**JOB, "dynamics": {"probe_ids": ["0"] * 1024}}, "dynamics.probe_ids.0", 1024),
    ("/api/jobs", {**JOB, **{f"x{i}": 1 for i in range(MANY)}}, "x0", MANY),
])
def test_many_problems_get_a_small_answer(client, path, body, first, problems):
    # Each wrong item is a problem of its own; answered whole (30 MB for 50,000 of them) the answer took the
    # event loop, and every other request, about a minute.
    before = counts(client)
    answer = client.post(path, json=body)
    detail = refused(client, answer, before, first)
    assert detail.endswith(f"; and {problems - 20} more problems"), detail[-200:]
    assert len(answer.json()["errors"]) == 20
    assert len(answer.content) < 20_000, len(answer.content)


EXPLAIN = {"text": "a cat", "model": "nope"}  # a list within its bound gets the unknown model's 404


@pytest.mark.parametrize(("path", "body", "named"), [
    ("/api/explain", {**EXPLAIN, "layers": list(range(257))}, "layers: List should have at most 256"),
    ("/api/explain", {**EXPLAIN, "heads": list(range(257))}, "heads: List should have at most 256"),
    ("/api/explain", {**EXPLAIN, "fields": ["attention"] * 5}, "fields: List should have at most 4"),
    ("/api/jobs", {**JOB, "data": {"task": "sst2", "label_names": ["a"] * 1001}},
     "data.label_names: List should have at most 1000"),
    ("/api/sweeps", {"base": JOB, "space": {"layers": [list(range(65))]}},
     "space.layers.0: List should have at most 64"),
    ("/api/sweeps", {"base": JOB, "strategy": "tpe", "prior": [{"params": {f"k{i}": 0.1 for i in range(6)},
                                                                "values": [0.5]}]},
     "prior.0.params: Dictionary should have at most 5"),
])
def test_every_request_list_is_bounded(client, path, body, named):
    # A bound is checked before the items, so a list far past it is one problem, cheap to find and to answer.
    before = counts(client)
    answer = client.post(path, json=body)
    assert refused(client, answer, before, named).count(";") == 0
    assert len(answer.content) < 2_000, len(answer.content)


def test_an_echoed_list_is_cut():
    assert errors.clipped(list(range(5_000))) == [*range(errors.ECHO_ITEMS), "…"]
    assert len(errors.clipped({str(i): i for i in range(5_000)})) == errors.ECHO_ITEMS
    assert errors.clipped([1, {"a": "b"}]) == [1, {"a": "b"}]


@pytest.mark.parametrize(("field", "values", "named"), [
    ("layers", list(range(256)), "layer 6, 7, 8, 9, 10 (and 245 more) does not exist: the model has layers 0 to 5"),
    ("heads", [10**4000, 12], "head 12, " + "1" + "0" * 199 + "… does not exist: the model has heads 0 to 11"),
])
def test_missing_layers_and_heads_are_named_without_echoing_them_all(client, field, values, named):
    before = counts(client)
    answer = client.post("/api/explain", json={"text": "a cat", field: values})
    assert refused(client, answer, before) == named
    assert len(answer.content) < 2_000, len(answer.content)


def test_an_unknown_model_within_the_cap_is_still_named(client):
    answer = client.post("/api/explain", json={"text": "a cat", "model": "m" * 300})
    assert answer.status_code == 404 and "m" * 300 in answer.json()["detail"]


# --- error answers are what the document declares ---------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/jobs/{job_id}/log", "/api/jobs/{job_id}/events", "/api/jobs/{job_id}/checkpoint",
                                  "/api/jobs/{job_id}/metrics", "/api/jobs/{job_id}"])
def test_a_missing_job_is_answered_as_the_document_declares(client, path):
    operation = client.get("/openapi.json").json()["paths"][path]["get"]
    declared = operation["responses"]["404"]["content"]
    answer = client.get(path.format(job_id=BIG - 1))
    assert answer.status_code == 404
    assert answer.headers["content-type"].split(";")[0] in declared, (answer.headers["content-type"], declared)
    assert declared["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorMessage"}
    assert answer.json() == {"detail": f"there is no job {BIG - 1}"}


def test_every_error_answer_is_declared_as_json(client):
    document = client.get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    assert list(response.get("content", {})) == ["application/json"], (method, path, status)


# --- 64-bit integers in paths, query strings and headers --------------------------------------------------

PATHS = [
    ("GET", "/api/jobs/{id}"),
    ("POST", "/api/jobs/{id}/cancel"),
    ("GET", "/api/jobs/{id}/metrics"),
    ("GET", "/api/jobs/{id}/events"),
    ("GET", "/api/jobs/{id}/log"),
    ("GET", "/api/jobs/{id}/checkpoint"),
    ("GET", "/jobs/{id}"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
@pytest.mark.parametrize("value", [BIG, 10**30, 0, -1])
def test_path_ids_outside_64_bits_are_refused(client, method, path, value):
    before = counts(client)
    refused(client, client.request(method, path.format(id=value)), before, "job_id")


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_the_largest_64_bit_id_is_simply_missing(client, method, path):
    answer = client.request(method, path.format(id=BIG - 1))
    assert answer.status_code == 404, answer.text[:300]


QUERIES = [
    ("/api/jobs?offset={big}", "offset"),
    ("/api/jobs?limit={big}", "limit"),
    ("/api/jobs/{job}/metrics?after={big}", "after"),
    ("/api/jobs/{job}/metrics?after={big}&format=csv", "after"),
    ("/api/jobs/{job}/log?tail={big}", "tail"),
    ("/jobs/new?clone={big}", "clone"),
    ("/api/sweeps?offset={big}", "offset"),
    ("/api/sweeps?limit={big}", "limit"),
]


@pytest.mark.parametrize(("url", "name"), QUERIES)
def test_query_integers_outside_64_bits_are_refused(client, job_id, url, name):
    before = counts(client)
    refused(client, client.get(url.format(big=BIG, job=job_id)), before, name)


def test_largest_query_integers_are_answered(client, job_id):
    assert client.get(f"/api/jobs?offset={BIG - 1}").json()["items"] == []
    assert client.get(f"/api/jobs/{job_id}/metrics?after={BIG - 1}").json() == []
    assert client.get(f"/jobs/new?clone={BIG - 1}").status_code == 200
    assert client.get(f"/sweeps/new?clone={BIG - 1}").status_code == 200


@pytest.mark.parametrize("cursor", [f"{BIG}:0", f"0:{BIG}", f"{10**40}:{10**40}"])
def test_last_event_ids_outside_64_bits_are_refused(client, job_id, cursor):
    before = counts(client)
    answer = client.get(f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": cursor})
    refused(client, answer, before, "Last-Event-ID")


# --- uploads ----------------------------------------------------------------------------------------------

FIELD_LIMIT = 128 * 1024
BAD_FILES = [
    ("train.csv", "text,label\nshort,1\n\"" + "x" * (FIELD_LIMIT + 1) + "\",0\n", "line 3"),
    ("train.csv", "text,label\n" + "x" * (FIELD_LIMIT + 1) + ",1\n", "line 2"),
    # a row is read by column name: of two columns of one name, the later silently replaced the earlier
    ("train.csv", "text,label,label\na cat,1,0\n", "column 'label' twice (columns 2 and 3)"),
    ("train.tsv", "text\tlabel\ttext\na cat\t1\ta dog\n", "column 'text' twice (columns 1 and 3)"),
    ("train.tsv", "text\tlabel\n" + "x" * (FIELD_LIMIT + 1) + "\t1\n", "line 2"),
    ("train.jsonl", '{"text": "fine", "label": 1}\n{"text": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "line 2"),
    ("train.json", "[" + "[" * 100_000 + "]" * 100_000 + "]", "nested"),
    ("train.jsonl", '{"text": "fine", "label": 1}\n{"text": "a \\ud800 cat", "label": 0}\n', "line 2"),
    ("train.json", '[{"text": "fine", "label": 1}, {"te\\udc00xt": "a cat", "label": 0}]', "item 1"),
    # Python's json reads these, but they are not JSON, and a NaN label or text would poison training
    ("train.jsonl", '{"text": "fine", "label": 1}\n{"text": NaN, "label": 0}\n', "line 2: NaN is not a JSON value"),
    ("train.jsonl", '{"text": "fine", "label": Infinity}\n', "line 1: Infinity is not a JSON value"),
    ("train.json", '[{"text": "fine", "label": 1}, {"text": "a cat", "label": -Infinity}]',
     "item 1: -Infinity is not a JSON value"),
    # JSON, but Python reads the first as infinity and refuses to read the second (over 4300 digits)
    ("train.jsonl", '{"text": "fine", "label": 1}\n{"text": "a cat", "label": 1e400}\n',
     "line 2: 1e400 is too large for a number"),
    ("train.json", '[{"text": "a cat", "label": -1.5e999}]', "item 0: -1.5e999 is too large for a number"),
    ("train.jsonl", '{"text": "a cat", "label": %s}\n' % ("9" * 5_000), "line 1: a number of 5000 digits is too long"),
    ("train.json", '[{"text": "fine", "label": 0}, {"text": "a cat", "label": -%s}]' % ("9" * 5_000),
     "item 1: a number of 5000 digits is too long"),
]


@pytest.mark.parametrize(("name", "text", "where"), BAD_FILES)
def test_unreadable_uploads_name_the_line_and_leave_nothing(client, name, text, where):
    before = counts(client)
    answer = client.post("/api/uploads", files={"file": (name, text.encode("utf-8"), "text/plain")})
    detail = refused(client, answer, before, name, where)
    assert "Internal" not in detail


def test_a_long_field_within_the_limit_is_read(client):
    text = "text,label\n" + "x" * (FIELD_LIMIT - 10) + ",1\n"
    answer = client.post("/api/uploads", files={"file": ("long.csv", text.encode(), "text/csv")})
    assert answer.status_code == 201 and answer.json()["rows"] == 1


# --- deeply nested JSON -----------------------------------------------------------------------------------

def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [100_000, 5_000, 900])
@pytest.mark.parametrize(("path", "template"), [
    ("/api/explain", "%s"),
    ("/api/explain", '{"text": "a cat", "layers": %s}'),
    ("/api/jobs", '{"model": "minilm", "data": {"task": "sst2", "label_names": %s}}'),
    ("/api/sweeps", '{"base": {%s}, "strategy": "tpe", "prior": [{"params": {"p": %%s, "q": 0.1}, "values": [1]}]}'
     % VALID_JOB),
])
def test_deeply_nested_json_is_refused(client, path, template, depth):
    before = counts(client)
    detail = refused(client, post_raw(client, path, template % nested(depth)), before, "nested")
    assert "deep" in detail


@pytest.mark.parametrize("path", ["/api/explain", "/api/jobs", "/api/sweeps"])
@pytest.mark.parametrize("body", [b'{"name": "\xff"}', b'{"name": "\xed\xa0\x80"}'])
def test_a_body_that_is_not_utf8_is_refused(client, path, body):
    # The second is a surrogate encoded as UTF-8, which Python's json would decode ("surrogatepass").
    before = counts(client)
    answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
    refused(client, answer, before, "UTF-8", "byte 10")


LONG = "9" * 5_000  # Python's json refuses an integer of more than 4300 digits (a ValueError)


@pytest.mark.parametrize(("path", "body"), [
    ("/api/explain", '{"text": "a cat", "seed": %s}' % LONG),
    ("/api/explain", '{"text": "a cat", "layers": [0, -%s]}' % LONG),
    ("/api/jobs", '{%s, "training": {"epochs": %s}}' % (VALID_JOB, LONG)),
    ("/api/sweeps", '{"base": {%s}, "seeds": [%s]}' % (VALID_JOB, LONG)),
])
def test_an_integer_too_long_to_read_is_refused(client, path, body):
    before = counts(client)
    detail = refused(client, post_raw(client, path, body), before, "integer of 5000 digits")
    assert LONG not in detail


def test_long_numbers_that_read_still_reach_validation(client):
    # a long fraction, a float's long integer part, and a long string of digits are no such integer
    for body in ('{"text": "a cat", "p": 0.%s}' % LONG, '{"text": "a cat", "p": %s.5}' % LONG,
                 '{"text": "a cat", "p": %se-5000}' % LONG, '{"text": "a cat", "model": "%s"}' % LONG):
        answer = post_raw(client, "/api/explain", body)
        assert answer.status_code in (404, 422) and "digits" not in answer.json()["detail"], answer.text[:300]


def test_a_body_of_too_many_values_is_refused_before_validation(client):
    # 50,000 unknown fields are 50,000 validation errors: 3 to 7 s of the event loop's time (health checks
    # included) before the guard counted the body's values.
    before = counts(client)
    body = json.dumps({**JOB, **{f"x{i}": 1 for i in range(50_000)}})
    started = time.perf_counter()
    answer = post_raw(client, "/api/jobs", body)
    took = time.perf_counter() - started
    refused(client, answer, before, "more than 10000 values")
    assert answer.json()["errors"] == [{"type": "json_too_many_values", "loc": ["body"], "msg": answer.json()["detail"],
                                        "input": None, "ctx": {"limit": bodies.MAX_JSON_VALUES}}]
    assert took < 1.5, took


def test_commas_in_strings_are_no_values():
    text = json.dumps({"text": "," * 50_000, "layers": list(range(9_999))})
    assert not bodies.json_values_exceed(text)
    assert bodies.json_values_exceed(json.dumps({"text": "a", "layers": list(range(10_001))}))


@pytest.mark.parametrize("body", [
    # an unterminated string of escaped quotes, then brackets: the depth scan restarted at every quote
    '"' + '\\"' * 40_000 + "[" * 40,
    # integers of 4300 digits, the most Python reads: the digit search restarted at every digit
    "[" + ",".join(["1" * 4300] * 240) + "]",
])
def test_the_body_guard_scans_in_linear_time(body):
    # Before, the first (80 KiB) took 8 to 30 s and the second (1 MiB) 4 to 18 s of the event loop.
    started = time.perf_counter()
    bodies.body_problem(body.encode())
    assert time.perf_counter() - started < 1.0


def test_reasonable_nesting_still_reaches_validation(client):
    answer = post_raw(client, "/api/explain", '{"text": "a cat", "layers": %s}' % nested(10))
    assert answer.status_code == 422 and "layers" in answer.json()["detail"]


# --- the 422 answer is the one the OpenAPI document declares ----------------------------------------------

def test_every_422_in_the_openapi_document_is_the_app_s_validation_answer(client):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    problem = schemas["ValidationProblem"]
    assert problem["properties"]["detail"]["type"] == "string" and problem["required"] == ["detail"]
    assert problem["properties"]["errors"]["type"] == "array"
    operations = [(path, method, operation) for path, item in document["paths"].items()
                  for method, operation in item.items()]
    with_input = [op for op in operations if op[2].get("parameters") or op[2].get("requestBody")]
    assert len(with_input) >= 15
    for path, method, operation in with_input:
        schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ValidationProblem"}, (method, path)


def test_a_validation_answer_has_the_declared_shape(client):
    body = client.post("/api/jobs", json={"data": {"task": "sst2"}, "training": {"epochs": 0}}).json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"] == "training.epochs: Input should be greater than or equal to 1"
    assert {"type", "loc", "msg"} <= set(body["errors"][0])
    assert math.isfinite(body["errors"][0]["ctx"]["ge"])


# --- /docs works offline ----------------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_nothing_from_other_sites(client, page):
    html = client.get(page)
    assert html.status_code == 200
    assert "http://" not in html.text and "https://" not in html.text, html.text
    assets = [part.split('"')[0] for part in html.text.split('src="')[1:] + html.text.split('href="')[1:]]
    assert assets
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 1000, asset
    assert "/openapi.json" in html.text
