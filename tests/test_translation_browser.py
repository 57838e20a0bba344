"""The job form and the job page for a translation job, in a real browser against a real API server and worker
(embedded default): the form offers translation for uploaded files (source and target language from a wmt16
file's languages), beams and the attention kind, fills the authors' translation preset for the wmt16 tasks, and
hides what a translation does not take; the job's page draws BLEU and chrF per epoch and shows the dev
translations of each epoch."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser import ARTIFACTS, chromium_page
from tests.jobs_stack import running_stack
from tests.tiny_translation import save_tiny_marian, toy_pairs, write_parallel

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running_stack("embedded", tmp_path_factory.mktemp("browser-translation"))


def chart(page, name: str) -> list[dict]:
    return page.evaluate(f"""(document.getElementById('{name}').data || [])
        .map((t) => ({{name: t.name, x: t.x, y: t.y}}))""")


def test_a_translation_job_from_the_form_to_its_dev_translations(stack, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    marian = save_tiny_marian(tmp_path / "marian")
    data = write_parallel(tmp_path / "toy", train=64, validation=12)
    with chromium_page() as page:
        page.goto(f"{stack.url}/jobs/new")
        page.fill("[name='model']", str(marian))
        page.dispatch_event("[name='model']", "change")
        # the known translation tasks, from a directory, take the authors' translation preset
        page.click("#source button[data-value='directory']")
        assert page.is_hidden("[name='training.num_beams']")  # sst2 first: no generation
        page.select_option("[name='data.task']", "wmt16-en-ro")
        assert page.is_visible("[name='training.num_beams']") and page.is_visible("[name='addrop.kind']")
        assert page.is_hidden("#dynamics-panel")
        page.select_option("#preset", "authors")
        page.wait_for_function("document.querySelector(\"[name='addrop.target']\").value === 'pseudo_loss'")
        assert (page.input_value("[name='addrop.kind']"), page.input_value("[name='addrop.layers']"),
                page.input_value("[name='addrop.p']"), page.input_value("[name='addrop.q']")) == ("encoder", "0, 1", "0.2", "0.2")
        page.select_option("[name='data.task']", "wmt16-tr-en")
        page.wait_for_function("document.querySelector(\"[name='addrop.p']\").value === '0.6'")
        assert page.input_value("[name='addrop.q']") == "0.1"
        page.select_option("[name='data.task']", "sst2")  # a classifier's preset puts the target back
        page.wait_for_function("document.querySelector(\"[name='addrop.target']\").value === 'auto'")
        assert page.is_visible("#dynamics-panel") and page.is_hidden("[name='addrop.kind']")
        page.select_option("#preset", "")

        # an upload in the wmt16 layout: its languages become the source and target choices
        page.click("#source button[data-value='upload']")
        page.set_input_files("#train-file", str(data / "train.jsonl"))
        page.wait_for_function("document.getElementById('train-file-info').textContent.includes('64 rows')")
        page.set_input_files("#validation-file", str(data / "validation.jsonl"))
        page.wait_for_function("document.getElementById('validation-file-info').textContent.includes('12 rows')")
        assert page.is_hidden("[name='upload.source_language']")
        page.select_option("[name='data.task_kind']", "translation")
        assert page.is_visible("[name='upload.source_language']") and page.is_hidden("[name='data.label_names']")
        assert (page.input_value("[name='upload.source_language']"), page.input_value("[name='upload.target_language']")) == ("en", "ro")
        page.fill("[name='upload.task']", "toy-en-ro")
        for name, value in {"epochs": "2", "batch_size": "16", "learning_rate": "0.003", "max_length": "32",
                            "patience": "", "num_beams": "2", "max_new_tokens": "12", "logging_steps": "2"}.items():
            page.fill(f"[name='training.{name}']", value)
        page.select_option("[name='training.device']", "cpu")
        page.fill("[name='addrop.layers']", "0, 1")
        page.fill("[name='addrop.p']", "0.3")
        page.select_option("[name='addrop.kind']", "cross")
        page.select_option("[name='addrop.target']", "logit")  # no logit to attribute in a generated sequence
        page.screenshot(path=ARTIFACTS / "jobs-translation-form.png", full_page=True)
        page.click("#submit-job")
        page.wait_for_function("document.querySelector(\".field-error[data-for='addrop.target']\").textContent.length > 0")
        assert "a translation task's attribution target is one of auto, loss, pseudo_loss" in page.inner_text(
            ".field-error[data-for='addrop.target']")
        page.select_option("[name='addrop.target']", "auto")
        page.click("#submit-job")
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
        job_id = int(page.url.rsplit("/", 1)[1])

        spec = httpx.get(f"{stack.url}/api/jobs/{job_id}").json()["spec"]
        assert (spec["data"]["task_kind"], spec["data"]["text_fields"], spec["data"]["label_field"]) == (
            "translation", ["en"], "ro")
        assert (spec["training"]["num_beams"], spec["training"]["max_new_tokens"], spec["addrop"]["kind"]) == (2, 12, "cross")
        assert spec["dynamics"]["enabled"] is False
        page.wait_for_function("document.getElementById('job-state').textContent === 'succeeded'", timeout=240_000)
        page.wait_for_function("(document.getElementById('dev-metric-chart').data || [])[0]?.x.length === 2")
        evaluations = httpx.get(f"{stack.url}/api/jobs/{job_id}/metrics", params={"kind": "eval"}).json()
        traces = {t["name"]: t for t in chart(page, "dev-metric-chart")}
        assert traces["dev bleu"]["y"] == [p["values"]["bleu"] for p in evaluations]
        assert traces["dev chrF"]["y"] == [p["values"]["chrf"] for p in evaluations] and traces["dev chrF"]["x"] == [1, 2]
        assert page.evaluate("document.getElementById('dev-metric-chart').layout.title.text") == "Dev bleu and chrF per epoch"

        # the dev translations: the latest epoch first, another epoch on request
        page.wait_for_function("document.querySelectorAll('#predictions-table tbody tr').length === 5")
        assert page.input_value("#predictions-epoch") == "2"
        predictions = httpx.get(f"{stack.url}/api/jobs/{job_id}/predictions").json()
        rows = page.eval_on_selector_all("#predictions-table tbody tr", "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))")
        first = toy_pairs(5, seed=1)
        assert [row[1:3] for row in rows] == [[pair["en"], pair["ro"]] for pair in first]
        assert [row[3] for row in rows] == [e["prediction"] for e in predictions[1]["examples"]]
        page.select_option("#predictions-epoch", "1")
        rows = page.eval_on_selector_all("#predictions-table tbody tr", "(rows) => rows.map((r) => r.cells[3].textContent)")
        assert rows == [e["prediction"] for e in predictions[0]["examples"]]
        page.locator("#predictions-panel").scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "jobs-translation.png", full_page=True)

        # compare draws the job's dev BLEU
        page.goto(f"{stack.url}/jobs/compare?ids={job_id}")
        page.wait_for_function("(document.getElementById('compare-metric').data || []).length > 0")
        assert page.evaluate("document.getElementById('compare-metric').layout.title.text") == "Dev bleu per epoch"
