"""Reading sweeps back: a sweep with its trials, baseline and best setting, the list of sweeps, and every
run's curves. The trials come from the sweep's row (what its last round kept), not from its Optuna study."""

from __future__ import annotations

import statistics
from typing import Sequence

from sqlalchemy import func, select, update

from addrop.paired import paired_difference
from backend.advice import run_warnings
from backend.job_errors import JobNotFound
from backend.schemas.sweeps import (CurvePoint, Paired, RunDynamics, SweepCreate, SweepCurves, SweepOut, Summary,
                                    TrialOut)
from backend.shown import shown_model, shown_spec
from backend.sweeps.rounds import runs_by_trial
from jobstore.database import Database
from jobstore.orm import PRUNED, QUEUED, RUNNING, SUCCEEDED, Job, MetricPoint, Sweep
from jobstore.strategies import STRATEGIES
from jobstore.studies import SweepStudy, TrialRecord, from_snapshot, snapshot

TRIAL_DONE = ("complete", "pruned", "failed", "cancelled")  # a trial's states that count it as finished


class SweepNotFound(JobNotFound):
    pass


def sweep_row(session, sweep_id: int) -> Sweep:
    """The sweep's row, or :class:`SweepNotFound` (also for one being deleted: it is gone for every reader)."""
    sweep = session.get(Sweep, sweep_id)
    if sweep is None or sweep.deleting:
        raise SweepNotFound(f"there is no sweep {sweep_id}")
    return sweep


def by_seed(jobs: Sequence[Job]) -> dict[int, float]:
    """The jobs' best dev metrics by training seed (of a seed run twice, the newer job: ``jobs`` are by id)."""
    return {job.spec["training"]["seed"]: job.best_metric for job in jobs}


def paired(runs: Sequence[Job], twins: Sequence[Job]) -> Paired | None:
    """A setting's finished runs against their baseline twins of the same seeds (None without a shared seed)."""
    difference = paired_difference(by_seed(runs), by_seed(twins))
    return Paired.model_validate(difference, from_attributes=True) if difference else None


def summary(values: Sequence[float]) -> Summary:
    """Mean, sample standard deviation (n - 1) and count of ``values``."""
    values = list(values)
    return Summary(mean=statistics.fmean(values) if values else None,
                   std=statistics.stdev(values) if len(values) > 1 else None, n=len(values), values=values)


class SweepViews:
    """The API's read models of sweeps."""

    def __init__(self, db: Database, database_url: str, data_dir) -> None:
        self.db = db
        self.database_url = database_url
        self.data_dir = data_dir

    def get(self, sweep_id: int) -> SweepOut:
        """The sweep with its trials, baseline and best setting, or :class:`SweepNotFound`."""
        with self.db.session() as session:
            sweep = sweep_row(session, sweep_id)
            jobs, final = sweep_runs(session, [sweep_id])
        return self.to_out(sweep, jobs.get(sweep_id, []), final)

    def list(self, limit: int = 50, offset: int = 0) -> tuple[list[SweepOut], int]:
        """Sweeps newest first, each as :meth:`get` shows it, and how many there are: the same few queries
        whatever the page's size."""
        with self.db.session() as session:
            sweeps = session.scalars(select(Sweep).where(Sweep.deleting.is_(False)).order_by(Sweep.id.desc())
                                     .limit(limit).offset(offset)).all()
            total = session.scalar(select(func.count()).select_from(Sweep).where(Sweep.deleting.is_(False))) or 0
            jobs, final = sweep_runs(session, [sweep.id for sweep in sweeps])
        return [self.to_out(sweep, jobs.get(sweep.id, []), final) for sweep in sweeps], total

    def trials(self, sweep: Sweep, spec: SweepCreate) -> list[TrialRecord]:
        """The sweep's trials as its row's snapshot holds them. A sweep from before snapshots has its study
        read instead; a finished one cannot change any more, so what was read becomes its snapshot (a running
        one gets its snapshot from its next round)."""
        if sweep.trials_snapshot is not None:
            return from_snapshot(sweep.trials_snapshot)
        trials = SweepStudy(sweep.study_name, self.database_url, spec.space.model_dump()).trials()
        if sweep.state != RUNNING:
            with self.db.session() as session:
                session.execute(update(Sweep).where(Sweep.id == sweep.id, Sweep.trials_snapshot.is_(None))
                                .values(trials_snapshot=snapshot(trials)))
        return trials

    def to_out(self, sweep: Sweep, jobs: Sequence[Job], final_dynamics: dict[int, dict[str, float]]) -> SweepOut:
        """The API's view of a sweep (``final_dynamics``: each recording job's last dynamics point's values)."""
        spec = SweepCreate.model_validate(sweep.spec)
        trials = self.trials(sweep, spec)

        def dynamics(runs: Sequence[Job]) -> RunDynamics | None:
            # the base job's masked layers: every run records them, a baseline twin too (addrop.dynamics)
            finals = [final_dynamics[job.id] for job in runs if job.id in final_dynamics]
            concentration = [statistics.fmean(values[f"concentration_L{layer}"] for layer in spec.base.addrop.layers)
                             for values in finals
                             if all(f"concentration_L{layer}" in values for layer in spec.base.addrop.layers)]
            reliance = [values["reliance"] for values in finals if "reliance" in values]
            return RunDynamics(concentration=summary(concentration), reliance=summary(reliance)) if finals else None

        baseline_jobs = [job for job in jobs if job.sweep_role == "baseline"]
        finished_twins = [job for job in baseline_jobs if job.state == SUCCEEDED and job.best_metric is not None]
        baseline_values = [job.best_metric for job in finished_twins]
        baseline = (summary(baseline_values) if baseline_jobs
                    else summary(spec.prior_baseline) if spec.prior_baseline else None)
        by_trial = runs_by_trial(jobs)
        out: list[TrialOut] = []
        for trial in trials:
            original = trial.same_as
            runs = by_trial.get(trial.number if original is None else original, [])
            if original is None and not runs and not trial.prior and (trial.state != "running" or trial.missing):
                continue  # not asked by this sweep, or not in full (its ask was cut off)
            scored = [job for job in runs if job.best_metric is not None and job.state in (SUCCEEDED, PRUNED)]
            if trial.prior or (original is not None and trials[original].prior):
                values = list(trials[trial.number if original is None else original].values)
            else:
                values = [job.best_metric for job in scored]
            value = summary(values)
            delta = (value.mean - baseline.mean if value.mean is not None and baseline and baseline.mean is not None
                     else None)
            out.append(TrialOut(number=trial.number, state=_trial_state(trial, runs), params=trial.params,
                                value=value, delta=delta, paired=paired(scored, finished_twins),
                                job_ids=[job.id for job in runs],
                                seeds=[job.spec["training"]["seed"] for job in runs], same_as=original,
                                prior=trial.prior, dynamics=dynamics([job for job in runs
                                                                      if job.state in (SUCCEEDED, PRUNED)])))
        complete = [trial for trial in out if trial.state == "complete" and trial.value.mean is not None]
        best = max(complete, key=lambda trial: trial.value.mean, default=None)
        # A search's proposal of a setting already run shares its runs and costs none of the budget; a grid's
        # every point counts.
        counted = [trial for trial in out if STRATEGIES[spec.strategy].repeats_count or trial.same_as is None]
        finished = sum(trial.state in TRIAL_DONE for trial in counted)
        counts: dict[str, int] = {}
        for trial in out:
            counts[trial.state] = counts.get(trial.state, 0) + 1
        for job in jobs:
            counts[f"jobs.{job.state}"] = counts.get(f"jobs.{job.state}", 0) + 1
        return SweepOut(
            id=sweep.id, name=sweep.name, state=sweep.state, strategy=spec.strategy, task=sweep.task,
            model=shown_model(sweep.model, self.data_dir), metric=sweep.metric_name, created_at=sweep.created_at,
            finished_at=sweep.finished_at, message=sweep.message, budget=spec.trial_budget(), finished=finished,
            counts=counts, baseline=baseline, baseline_job_ids=[job.id for job in baseline_jobs], best=best,
            trials=out, baseline_seeds=[job.spec["training"]["seed"] for job in baseline_jobs],
            baseline_dynamics=dynamics([job for job in baseline_jobs if job.state == SUCCEEDED]),
            spec={**sweep.spec, "base": shown_spec(sweep.spec["base"], self.data_dir)},
            study_name=sweep.study_name, revision=sweep.revision,
            warnings=run_warnings({**sweep.spec["base"], "addrop": {**sweep.spec["base"].get("addrop", {}), "enabled": True}},
                                  runs="every trial"),
        )

    def curves(self, sweep_id: int) -> SweepCurves:
        """Every run's dev metric and loss per epoch; of a run tried again (its worker died), the last attempt."""
        with self.db.session() as session:
            sweep = sweep_row(session, sweep_id)
            # a run tried again keeps its seed's place: the newest job of each (role, trial, seed) is the one
            last_attempts = (select(func.max(Job.id)).where(Job.sweep_id == sweep_id)
                             .group_by(Job.sweep_role, Job.trial_number, Job.seed_index))
            rows = session.execute(
                select(MetricPoint.job_id, MetricPoint.epoch, MetricPoint.values)
                .where(MetricPoint.job_id.in_(last_attempts), MetricPoint.kind == "eval").order_by(MetricPoint.id)
            ).all()
        curves: dict[int, list[CurvePoint]] = {}
        for job_id, epoch, values in rows:
            curves.setdefault(job_id, []).append(
                CurvePoint(epoch=epoch, value=values.get(sweep.metric_name), loss=values.get("loss")))
        return SweepCurves(metric=sweep.metric_name, jobs=curves)


def sweep_runs(session, sweep_ids: Sequence[int]) -> tuple[dict[int, list[Job]], dict[int, dict[str, float]]]:
    """The sweeps' jobs by sweep, in the order of their ids, and each recording job's last dynamics point's
    values, by job: one query each, however many sweeps."""
    jobs: dict[int, list[Job]] = {}
    for job in session.scalars(select(Job).where(Job.sweep_id.in_(sweep_ids)).order_by(Job.id)):
        jobs.setdefault(job.sweep_id, []).append(job)
    last = (select(func.max(MetricPoint.id)).join(Job, Job.id == MetricPoint.job_id)
            .where(Job.sweep_id.in_(sweep_ids), MetricPoint.kind == "dynamics").group_by(MetricPoint.job_id))
    final = dict(session.execute(select(MetricPoint.job_id, MetricPoint.values)
                                 .where(MetricPoint.id.in_(last))).tuples().all())
    return jobs, final


def _trial_state(trial: TrialRecord, runs: Sequence[Job]) -> str:
    if trial.state in ("complete", "pruned"):
        return trial.state
    if trial.state == "failed":
        return "cancelled" if trial.outcome == "cancelled" else "failed"
    if any(job.state == PRUNED for job in runs):
        return "pruned"
    return "running" if any(job.state != QUEUED for job in runs) else "queued"
