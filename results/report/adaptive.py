"""The product's adaptive (TPE) search replayed against each complete grid's recorded values: how many runs it
needs to reach the grid's best."""

from __future__ import annotations

import statistics
import sys

from report.runs import RESULTS, in_task_order

sys.path.insert(0, str(RESULTS.parent))  # jobstore, for the replay of the adaptive search


def adaptive_against_grid(runs: list[dict], budget: int = 10, repeats: int = 200) -> dict | None:
    """Replays the product's adaptive search (``jobstore.strategies``: the same TPE distributions and sampler, its
    seed moving on with every ask as a sweep's does, a repeated setting answered with its recorded value as a
    sweep shares its runs) against a complete grid's recorded values, once per search seed; how many distinct
    settings each search runs before it reaches the grid's best (and within 0.5 points of it)."""
    import optuna

    from jobstore.space import setting as setting_of
    from jobstore.strategies import STRATEGIES

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # 200 replays would each log their study's creation
    values = {(run["setting"]["p"], run["setting"]["q"]): run["best_metric"]
              for run in runs if run["role"] == "addrop" and run["best_metric"] is not None}
    ps, qs = sorted({p for p, _ in values}), sorted({q for _, q in values})
    if len(ps) < 3 or len(qs) < 3 or len(values) != len(ps) * len(qs):
        return None
    space = {"p": ps, "q": qs, "method": ["GA"], "mode": ["high"], "layers": [[0]]}
    tpe = STRATEGIES["tpe"]
    distributions = tpe.distributions(space)
    best = max(values.values())
    to_best, to_near = [], []
    for repeat in range(repeats):
        study = optuna.create_study(direction="maximize")
        distinct: set[tuple[float, float]] = set()
        near = None
        while True:
            study.sampler = tpe.sampler(space, repeat * 1000, len(study.trials), budget)
            trial = study.ask(distributions)
            setting = setting_of(space, trial.params)
            key = (setting["p"], setting["q"])
            study.tell(trial, values[key])
            distinct.add(key)
            if near is None and values[key] >= best - 0.005:
                near = len(distinct)
            if values[key] >= best:
                break
        to_best.append(len(distinct))
        to_near.append(near)
    return {"grid": len(values), "best": best, "to_best": to_best, "to_near": to_near, "budget": budget}


def adaptive_table(data: dict[str, dict[str, list[dict]]]) -> str:
    """Per task with a complete grid: the runs the adaptive search needed against the grid's."""
    lines = ["| task | grid: runs, best | adaptive search: runs to the grid's best (median, 90th pct) | "
             "reaches it within 10 runs | runs to within 0.5 points (median) |", "|---|---|---|---|---|"]
    for task in in_task_order(data):
        replay = adaptive_against_grid(data[task].get("grid", []))
        if replay is None:
            continue
        ranked = sorted(replay["to_best"])
        within = sum(n <= replay["budget"] for n in ranked) / len(ranked)
        lines.append(f"| {task} | {replay['grid']}, {replay['best'] * 100:.2f} | {statistics.median(ranked):g}, "
                     f"{ranked[int(0.9 * (len(ranked) - 1))]} | {within:.0%} of {len(ranked)} searches | "
                     f"{statistics.median(replay['to_near']):g} |")
    return "\n".join(lines) if len(lines) > 2 else "No complete grid recorded yet."
