"""docs/addrop-figures.ipynb runs from top to bottom on the default model and shows a figure in each drawing cell."""

from __future__ import annotations

import time

import nbformat
from nbclient import NotebookClient

from tests.browser import ROOT

NOTEBOOK = ROOT / "docs" / "addrop-figures.ipynb"


def test_the_example_notebook_runs_and_draws_every_figure(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout's addrop, not an installed one
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    started = time.monotonic()
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    assert time.monotonic() - started < 60
    shown = [cell for cell in notebook.cells if cell.cell_type == "code"
             and any("application/vnd.plotly.v1+json" in output.get("data", {}) for output in cell.outputs)]
    assert len(shown) == 5  # maps, text view, model view, curves, sweep map
    titles = [output["data"]["application/vnd.plotly.v1+json"]["layout"]["title"]["text"]
              for cell in shown for output in cell.outputs if "data" in output]
    assert "minilm · “a gorgeous, witty, seductive movie it…” · layer 0, head 3 · GA · p=0.3, q=0.3, high · seed 0" in titles[0]
