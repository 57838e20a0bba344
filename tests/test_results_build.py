"""results/report (what results/build_results.py runs): the table's numbers against ones computed by hand from
synthetic run files, and the plots it draws."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "results"))
from report.adaptive import adaptive_against_grid  # noqa: E402
from report.authors_protocol import paired_result  # noqa: E402
from report.build import build  # noqa: E402
from report.paired_figure import paired_points  # noqa: E402
from report.runs import load  # noqa: E402
from report.short_protocol import verdict  # noqa: E402

pytest.importorskip("matplotlib")


def write_run(root: Path, task: str, phase: str, role: str, seed: int, best: float, setting=None, state="succeeded",
              learning_rate=2e-5, **extra):
    run = {"spec": {"training": {"learning_rate": learning_rate}}, "task": task, "phase": phase, "role": role,
           "setting": setting, "seed": seed, "state": state, "metric": "f1", "best_metric": best, "best_epoch": 2.0,
           "final_metrics": {"f1": best},
           "epochs": [{"epoch": 1, "dev": {"f1": best - 0.01, "loss": 0.5}, "train_loss": 0.6},
                      {"epoch": 2, "dev": {"f1": best, "loss": 0.45}, "train_loss": 0.4}],
           "wall_seconds": 120.0 + seed, "machine": {"cpu": "Test CPU", "cores": 2}, **extra}
    name = f"{role}-{seed}-{json.dumps(setting, sort_keys=True) if setting else ''}".replace('"', "").replace(" ", "")
    folder = root / task / phase
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{abs(hash(name))}.json").write_text(json.dumps(run))


def test_the_table_and_plots_from_run_files(tmp_path):
    runs = tmp_path / "runs"
    good = {"p": 0.3, "q": 0.4, "method": "GA", "mode": "high", "layers": [0], "cross_tuning": True}
    worse = {**good, "p": 0.7}
    write_run(runs, "mrpc", "search", "baseline", 42, 0.80)
    write_run(runs, "mrpc", "search", "addrop", 42, 0.83, good)
    write_run(runs, "mrpc", "search", "addrop", 42, 0.78, worse, state="pruned")
    for seed, base, ours in ((1, 0.80, 0.83), (2, 0.82, 0.85), (3, 0.84, 0.87)):
        write_run(runs, "mrpc", "confirm", "baseline", seed, base)
        write_run(runs, "mrpc", "confirm", "addrop", seed, ours, good)
    write_run(runs, "mrpc", "prior", "baseline", 42, 0.80, copied_from="search/baseline-seed42.json")
    write_run(runs, "mrpc", "prior", "addrop", 42, 0.81, {**good, "cross_tuning": False})
    write_run(runs, "rte", "search", "baseline", 42, 0.60, learning_rate=1e-4)  # still searching: no gain yet
    text = build(runs, tmp_path / "docs")
    row = next(line for line in text.splitlines() if line.startswith("| mrpc"))
    # by hand: baseline mean 0.82, sample std 0.02; AD-DROP 0.85 +/- 0.02; gain 3 points; chosen p 0.3 (0.83 > 0.78)
    assert "| 82.00 ± 2.00 | 85.00 ± 2.00 | +3.00 | 3 + 3 | 0.3, 0.4 | 2e-05 | 2 (1) | 83.00 vs 80.00 |" in row
    assert "| **average** (1 tasks) | 82.00 | 85.00 | +3.00 |" in text
    # per seed by hand: 0.83 - 0.80, 0.85 - 0.82, 0.87 - 0.84; the search had promised 0.83 - 0.80
    assert ("- **mrpc**: AD-DROP helped on every seed, +3.00 points on average; per seed +3.00 (seed 1), +3.00 (seed 2), "
            "+3.00 (seed 3). The chosen setting had scored +3.00 against its baseline at seed 42.") in text
    rte = next(line for line in text.splitlines() if line.startswith("| rte"))
    assert "| – | – | – | 0 + 0 | – | 0.0001 |" in rte
    # by hand: mrpc has 3 search, 6 confirm and 2 prior runs, rte 1 search run, all on the one CPU
    assert "Hardware: Test CPU (2 cores): 11 mrpc, 1 rte runs." in text
    # the copied baseline counts as a run of the phase, but its wall time only under search: the prior phase's
    # sum is its AD-DROP run's 162 s (0.04 h), not 324 s (0.09 h)
    assert "| mrpc | prior | 2 | 0 | 1 | 0.04 h |" in text
    for name in ("search-mrpc.png", "prior-mrpc.png"):
        assert (tmp_path / "docs" / "results" / name).stat().st_size > 10_000
    assert "![search-mrpc](results/search-mrpc.png)" in text and "{{" not in text
    # Figure 2's numbers under it, no dropping first: each run's epoch 2 has training loss 0.4, dev loss 0.45
    assert ("| mrpc: variant | training loss, last epoch | lowest dev loss | best dev f1 |\n|---|---|---|---|\n"
            "| no dropping | 0.4000 (epoch 2) | 0.4500 (epoch 2) | 80.00 (epoch 2) |\n"
            "| high attribution (AD-DROP) | 0.4000 (epoch 2) | 0.4500 (epoch 2) | 81.00 (epoch 2) |") in text


def grid_runs(value) -> list[dict]:
    """A 5 x 5 grid of recorded runs whose best dev metric is ``value(p, q)``."""
    setting = {"method": "GA", "mode": "high", "layers": [0], "cross_tuning": True}
    values = [0.1, 0.3, 0.5, 0.7, 0.9]
    return [{"role": "addrop", "setting": {**setting, "p": p, "q": q}, "best_metric": value(p, q)}
            for p in values for q in values]


def test_the_adaptive_search_replayed_against_a_grid():
    # a smooth surface with one best setting (p 0.7, q 0.3): every search reaches it, in at most the grid's runs,
    # and in fewer on the median than a random order of the 25 settings would (13, the expected position)
    bowl = adaptive_against_grid(grid_runs(lambda p, q: 0.9 - (p - 0.7) ** 2 - (q - 0.3) ** 2), repeats=40)
    assert bowl["grid"] == 25 and bowl["best"] == pytest.approx(0.9)
    assert all(1 <= n <= 25 for n in bowl["to_best"]) and len(bowl["to_best"]) == 40
    assert sorted(bowl["to_best"])[20] < 13
    assert all(near <= best for near, best in zip(bowl["to_near"], bowl["to_best"]))
    # every setting equal: the first run is already the best
    assert adaptive_against_grid(grid_runs(lambda p, q: 0.5), repeats=5)["to_best"] == [1] * 5
    # an incomplete grid is no reference
    assert adaptive_against_grid(grid_runs(lambda p, q: 0.5)[:-1]) is None


def test_the_verdict_needs_every_seed_to_agree():
    assert verdict([0.8, 0.1, 0.03]) == "AD-DROP helped on every seed"
    assert verdict([-3.8, -4.6, -2.2]) == "AD-DROP hurt on every seed"
    # a positive mean from mixed seeds (STS-B's +0.09) is no effect; a tie is not a loss
    assert verdict([0.82, -0.60, 0.03]) == "no consistent effect (AD-DROP better on 2 of 3 seeds)"
    assert verdict([0.0, -1.0, -2.0]) == "no consistent effect (AD-DROP better on 0 of 3 seeds)"


def test_the_authors_protocol_section_pairs_seeds_with_a_t_interval(tmp_path):
    runs = tmp_path / "runs"
    chosen = {"p": 0.2, "q": 0.3, "method": "GA", "mode": "high", "layers": [0, 1, 2, 3, 4, 5], "cross_tuning": True}
    # epochs 1-3 (2 is an AD-DROP epoch); the share predicted as class 1 is 0.8 after plain epochs, 0.9 after AD-DROP
    # ones in AD-DROP runs, 0.7 throughout in baselines
    def epochs(best, role):
        return [{"epoch": e, "dev": {"matthews_correlation": best - 0.01 * (e != 2),
                                     "pred_share_1": 0.7 if role == "baseline" else (0.9 if e == 2 else 0.8)},
                 "train_loss": 0.5} for e in (1, 2, 3)]

    def write(phase, role, seed, best, setting=None, cap=30):
        write_run(runs, "cola", phase, role, seed, best, setting, metric="matthews_correlation",
                  epochs=epochs(best, role), spec={"training": {"learning_rate": 1e-5, "epochs": cap}},
                  wall_seconds=600.0 * (seed % 7 + 1))

    write("authors-search", "baseline", 42, 0.30)
    write("authors-search", "addrop", 42, 0.335, chosen)
    for seed, diff in zip((1, 2, 3, 4, 5), (0.01, 0.02, 0.03, 0.00, 0.04)):
        write("authors-confirm", "baseline", seed, 0.30)
        write("authors-confirm", "addrop", seed, 0.30 + diff, chosen, cap=3 if seed == 5 else 30)
    text = build(runs, tmp_path / "docs")
    row = next(line for line in text.splitlines() if line.startswith("| cola (Matthews corr.) | 30.00"))
    # by hand: diffs 1, 2, 3, 0, 4 points: mean 2.00, sample std 1.5811, t(0.975, 4) = 2.7764: half width 1.963
    assert "| 30.00 ± 0.00 | 32.00 ± 1.58 | +2.00 (+0.04 to +3.96) | 5 + 5 | +3.50 | +1.50 | 0.2, 0.3 | 1 (0) |" in row
    # every run ran 3 epochs; only the seed-5 AD-DROP run had a cap of 3
    assert "| 3 (1 reached the cap; 12 runs) |" in row
    assert ("- **cola**: AD-DROP helped (the 95% interval is above 0); no consistent effect (AD-DROP better on 4 of 5 "
            "seeds); per seed +1.00 (seed 1), +2.00 (seed 2), "
            "+3.00 (seed 3), +0.00 (seed 4), +4.00 (seed 5). The paired differences spread with a std of 1.58 points: "
            "5 seeds find (two-sided, 95%) with 80% power only a true effect of ") in text
    assert "At seed 42 the chosen setting scored +3.50" in text
    assert "| AD-DROP runs | 0.800 (12) | 0.900 (6) |" in text
    assert "| baselines, same epochs | 0.700 (12) | 0.700 (6) |" in text
    assert "paired difference on fresh seeds is cola +2.00 points (95% interval +0.04 to +3.96, 5 seeds)" in text
    # the paper figure: the same pairs, differences, interval and promise, in points
    assert (tmp_path / "docs" / "results" / "authors-paired.png").stat().st_size > 10_000
    assert "![authors-paired](results/authors-paired.png)" in text
    points = paired_points(paired_result("cola", load(runs)["cola"]))
    assert points["seeds"] == [1, 2, 3, 4, 5] and points["baseline"] == pytest.approx([30.0] * 5)
    assert points["diffs"] == pytest.approx([1, 2, 3, 0, 4])
    assert points["interval"] == pytest.approx((2.0, 2.0 - 1.963, 2.0 + 1.963), abs=1e-3)
    assert points["promise"] == pytest.approx(3.5)


def test_a_search_not_yet_confirmed_names_its_best_setting_so_far(tmp_path):
    runs = tmp_path / "runs"
    setting = {"p": 0.5, "q": 0.7, "method": "GA", "mode": "high", "layers": [0], "cross_tuning": True}
    for role, best, chosen in (("baseline", 0.62, None), ("addrop", 0.57, setting)):
        write_run(runs, "rte", "authors-search", role, 42, best, chosen, metric="accuracy",
                  spec={"training": {"learning_rate": 1e-5, "epochs": 30}})
    text = build(runs, tmp_path / "docs")
    row = next(line for line in text.splitlines() if line.startswith("| rte (accuracy) |"))
    assert "| 0.5, 0.7 (best so far) |" in row and "| -5.00 |" in row
    assert "- **rte**: not confirmed yet (2 search runs recorded). At seed 42 the best setting so far scored -5.00" in text
    assert "chosen setting" not in text.split("{{")[0].split("rte**")[1].split("\n")[0]


def test_a_search_that_tried_all_its_settings_has_chosen_before_its_confirmation(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "rte", "authors-search", "baseline", 42, 0.62, None, metric="accuracy",
              spec={"training": {"learning_rate": 1e-5, "epochs": 30}})
    for index, (p, q) in enumerate([(0.1, 0.1), (0.2, 0.1), (0.3, 0.1), (0.4, 0.1), (0.5, 0.1), (0.6, 0.1)]):
        setting = {"p": p, "q": q, "method": "GA", "mode": "high", "layers": [0], "cross_tuning": True}
        write_run(runs, "rte", "authors-search", "addrop", 42, 0.55 + index / 100, setting, metric="accuracy",
                  spec={"training": {"learning_rate": 1e-5, "epochs": 30}})
    text = build(runs, tmp_path / "docs")
    row = next(line for line in text.splitlines() if line.startswith("| rte (accuracy) |"))
    assert "| 0.6, 0.1 (not confirmed yet) |" in row and "| 6 (0) |" in row  # RTE's search tries 6 settings
    assert "At seed 42 the chosen setting scored -2.00" in text


def test_the_median_wall_time_counts_a_copied_run_once(tmp_path):
    """A run file copied into another phase (the prior experiment's no-dropping run is the search's seed-42
    baseline) records the same job again: the task's median wall time per run counts that job once, as the status
    table's wall-time sums do."""
    runs = tmp_path / "runs"
    setting = {"p": 0.3, "q": 0.4, "method": "GA", "mode": "high", "layers": [0], "cross_tuning": True}
    write_run(runs, "mrpc", "search", "baseline", 42, 0.80, wall_seconds=1200.0)
    write_run(runs, "mrpc", "search", "addrop", 42, 0.83, setting, wall_seconds=60.0)
    write_run(runs, "mrpc", "prior", "baseline", 42, 0.80, wall_seconds=1200.0,
              copied_from="search/baseline-seed42.json")
    text = build(runs, tmp_path / "docs")
    row = next(line for line in text.splitlines() if line.startswith("| mrpc (F1) |"))
    # by hand: the two runs that trained took 1200 s and 60 s: median 630 s = 10.5 min (with the copy counted
    # again, the median of 1200, 60, 1200 would be 20.0 min)
    assert row.endswith("| 10.5 min |")
