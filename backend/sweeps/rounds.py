"""Advancing sweeps by ask-and-tell from the API process: tell Optuna the trials whose runs have all
finished, ask for new ones while fewer than ``parallel`` are in flight, and create their jobs. Every step can
be redone: a trial without jobs gets them on the next round, so an API restart at any point loses no trial.
A sweep's cancel is carried out here too (``finish_cancel``), by the API's cancel or, for one cut short, by the
next round.
"""

from __future__ import annotations

import logging
import statistics
from typing import Sequence

from sqlalchemy import func, select, update

from backend.job_errors import JobConflict
from backend.jobs import JobService
from backend.run_config import data_files, job_task, run_config
from backend.schemas.jobs import JobCreate
from backend.schemas.sweeps import SweepCreate
from backend.sweeps.lease import LeaseLost, SweepLease
from jobstore.orm import CANCELLED, FAILED, FINISHED, PRUNED, QUEUED, RUNNING, SUCCEEDED, Job, Sweep, utcnow
from jobstore.space import layers_label, setting_key
from jobstore.strategies import STRATEGIES
from jobstore.studies import SweepStudy, TrialRecord, snapshot

log = logging.getLogger("backend.sweeps")

RUN_ATTEMPTS = 2  # a run that failed (e.g. its worker was killed) is run once more before its trial fails
DUPLICATE_ASKS = 25  # proposals of already-run settings in a row after which an adaptive search is done


def job_row(sweep: Sweep, trial: tuple[int, dict] | None, seed_index: int, seed: int) -> Job:
    """A job row of the sweep: a trial's run (``trial`` = number, setting) or a baseline twin. Its spec is the
    base job's with the seed and the trial's AD-DROP setting (a twin's AD-DROP off), and its config is that
    spec's, built as a job's is (``run_config``) on the data files the sweep resolved when it was created."""
    base = JobCreate.model_validate(sweep.spec["base"])
    fields = base.model_dump(mode="json")
    fields["training"]["seed"] = seed
    if trial is None:
        fields["addrop"]["enabled"] = False
        label = "baseline"
    else:
        number, value = trial
        fields["addrop"].update(enabled=True, **value)
        label = (f"trial {number} · {value['method']} {value['mode']} p={value['p']:g} q={value['q']:g} "
                 f"L{layers_label(value['layers'])}")
    fields["name"] = f"{sweep.name} · {label} · seed {seed}"[:200]
    spec = JobCreate.model_validate(fields)
    # Every run of the sweep records the base job's masked layers, so that their dynamics compare (views).
    config = run_config(spec, job_task(spec), data_files(sweep.base_config), recorded_layers=base.addrop.layers,
                        save_checkpoint=bool(sweep.spec.get("keep_checkpoints")))
    return Job(name=spec.name, state=QUEUED, spec=spec.model_dump(mode="json"), config=config, task=sweep.task,
               model=sweep.model, metric_name=sweep.metric_name, sweep_id=sweep.id,
               sweep_role="baseline" if trial is None else "trial",
               trial_number=None if trial is None else trial[0], seed_index=seed_index)


def runs_by_trial(jobs: Sequence[Job]) -> dict[int, list[Job]]:
    """A sweep's trial runs by trial number (its baseline twins left out), in the order given."""
    by_trial: dict[int, list[Job]] = {}
    for job in jobs:
        if job.sweep_role == "trial":
            by_trial.setdefault(job.trial_number, []).append(job)
    return by_trial


def stop_job(jobs: JobService, job_id: int, reason: str) -> None:
    """Cancel a sweep's job unless it finished meanwhile."""
    try:
        jobs.cancel(job_id, reason)
    except JobConflict:
        pass


class SweepRounds:
    """The rounds of ask-and-tell that advance the running sweeps."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs
        self.db = jobs.db
        self.settings = jobs.settings

    def advance_all(self) -> None:
        """Advance every running sweep (called periodically by the API)."""
        with self.db.session() as session:
            ids = session.scalars(select(Sweep.id).where(Sweep.state == RUNNING).order_by(Sweep.id)).all()
        for sweep_id in ids:
            try:
                self.advance(sweep_id)
            except Exception:  # one broken sweep must not stop the others
                log.exception("advancing sweep %s failed", sweep_id)

    def advance(self, sweep_id: int, wait: float = 0.0) -> None:
        """One round for the sweep, unless another API process holds it (after waiting up to ``wait`` seconds for
        it to let go): ask-and-tell, or, for a sweep whose cancel was requested but not finished (the API process
        died half way through it), the rest of it."""
        lease = SweepLease(self.db, sweep_id)
        if not lease.take(wait=wait):
            return
        try:
            with self.db.session() as session:
                cancelling = session.scalar(select(Sweep.cancel_requested).where(Sweep.id == sweep_id))
            if cancelling:
                stopped = self.finish_cancel(sweep_id, lease)
                log.warning("sweep %s: its cancel was cut short; this round finished it (%d open jobs stopped)",
                            sweep_id, stopped)
            else:
                self._advance(sweep_id, lease)
        except LeaseLost:
            log.warning("sweep %s: the round outlasted its lease and another API process took the sweep over; "
                        "this round stops before queueing anything more", sweep_id)
        finally:
            lease.release()

    def finish_cancel(self, sweep_id: int, lease: SweepLease) -> int:
        """Carry out the sweep's requested cancel, holding its lease: stop its open jobs, fail its running trials,
        then in one write keep the trials the study holds, mark it cancelled and move its revision once. Each step
        can be redone, so the API's cancel and a round finishing one cut short anywhere both come here; returns
        how many jobs it stopped. The lease is renewed before each step, so that a cancel of many jobs that
        outlasts it is not finished a second time, beside it, by another process's round (:class:`LeaseLost`
        when that happened anyway)."""
        with self.db.session() as session:
            sweep = session.get(Sweep, sweep_id)
            # a running job already asked to stop (by a cancel cut short) is asked no second time
            open_jobs = session.scalars(select(Job.id).where(Job.sweep_id == sweep_id, Job.state.not_in(FINISHED),
                                                             Job.cancel_requested.is_(False)).order_by(Job.id)).all()
        for job_id in open_jobs:
            lease.renew()
            stop_job(self.jobs, job_id, f"sweep {sweep_id} was cancelled")
        study = SweepStudy(sweep.study_name, self.settings.resolved_database_url,
                           SweepCreate.model_validate(sweep.spec).space.model_dump())
        for trial in study.trials():
            if trial.state == "running":
                lease.renew()
                study.fail(trial.number, "cancelled")
        lease.renew()
        with self.db.session() as session:
            session.execute(update(Sweep).where(Sweep.id == sweep_id, Sweep.state == RUNNING).values(
                state=CANCELLED, finished_at=utcnow(), message="cancelled", revision=Sweep.revision + 1,
                trials_snapshot=snapshot(study.trials())))
        return len(open_jobs)

    def _advance(self, sweep_id: int, lease: SweepLease) -> None:
        with self.db.session() as session:
            sweep = session.get(Sweep, sweep_id)
            jobs = session.scalars(select(Job).where(Job.sweep_id == sweep_id)).all()
        spec = SweepCreate.model_validate(sweep.spec)
        strategy = STRATEGIES[spec.strategy]
        study = SweepStudy(sweep.study_name, self.settings.resolved_database_url, spec.space.model_dump())
        trials = study.trials()
        by_trial = runs_by_trial(jobs)

        # Tell Optuna about trials whose runs have all finished; give a trial without its jobs its jobs.
        new_rows: list[Job] = []
        for trial in trials:
            if trial.state != "running":
                continue
            if trial.missing:
                # Its ask was cut off (an API process died while Optuna wrote its parameters one by one): the rest
                # of its setting is unknown, so it never runs; the asking below asks another in its place.
                runs = by_trial.get(trial.number, [])
                for job in runs:  # given runs by a release that read the missing values as the space's first
                    if job.state not in FINISHED:
                        stop_job(self.jobs, job.id, f"trial {trial.number}'s ask was interrupted")
                study.drop_half_asked(trial.number, trial.missing)
                log.warning("sweep %s: trial %s was asked only in part (%s never written), so it was failed and not "
                            "run; another is asked in its place", sweep_id, trial.number, ", ".join(trial.missing))
                continue
            if trial.same_as is not None:
                study.copy_outcome(trial.number, trials[trial.same_as])
                continue
            runs = by_trial.get(trial.number, [])
            missing = _to_run(runs, len(spec.seeds))
            new_rows += [job_row(sweep, (trial.number, trial.params), index, spec.seeds[index]) for index in missing]
            if not missing:
                self._settle(study, trial, list(_latest(runs).values()), len(spec.seeds))
        if spec.baseline:
            twins = [job for job in jobs if job.sweep_role == "baseline"]
            new_rows += [job_row(sweep, None, index, spec.seeds[index]) for index in _to_run(twins, len(spec.seeds))]
        if new_rows:
            lease.renew()
            self.jobs.queue_rows(new_rows)
            for row in new_rows:
                if row.sweep_role == "trial":
                    by_trial.setdefault(row.trial_number, []).append(row)

        # Ask for new trials while fewer than `parallel` run and the budget lasts. A finished trial with no
        # runs of its own was not asked by this sweep (e.g. added to the study by hand, or its ask was cut off) and
        # counts for nothing.
        trials = study.trials()
        own = [trial for trial in trials if trial.same_as is None
               and (trial.number in by_trial or trial.state == "running")]
        prior = [trial for trial in trials if trial.prior]
        in_flight = sum(trial.state == "running" for trial in own)
        asked = strategy.asked(trials, len(own), len(prior))
        budget = spec.trial_budget()
        seen = {setting_key(trial.params): trial.number for trial in [*prior, *own] if trial.state != "failed"}
        duplicates = 0
        exhausted = False
        asked_so_far = len(trials)  # moves the sampler's seed on (see TPE.sampler)
        while in_flight < spec.parallel and asked < budget:
            lease.renew()
            trial = study.ask(strategy, spec.sampler_seed, asked_so_far, budget)
            asked_so_far = trial.number + 1
            key = setting_key(trial.params)
            if key in seen:
                # Same run as an earlier trial (TPE proposing it again, RD's high and low): share its runs.
                study.mark_repeat(trial.number, seen[key])
                duplicates += 1
                if strategy.repeats_count:
                    asked += 1
                if duplicates >= DUPLICATE_ASKS or len(seen) >= spec.space.size():
                    exhausted = True
                    break
                continue
            seen[key] = trial.number
            self.jobs.queue_rows([job_row(sweep, (trial.number, trial.params), index, seed)
                                  for index, seed in enumerate(spec.seeds)])
            in_flight += 1
            asked += 1

        # Finished: nothing asked remains open and the baseline twins are done.
        trials = study.trials()
        for trial in trials:  # duplicates asked this round whose original has already finished
            if trial.state == "running" and trial.same_as is not None:
                study.copy_outcome(trial.number, trials[trial.same_as])
        trials = study.trials()
        open_trials = any(trial.state == "running" for trial in trials)
        # What the sweep's page and the list show: read after this round's last ask, by the lease holder, so no
        # trial in it is half asked (Optuna writes a new trial's row and each of its params apart).
        records = snapshot(trials)
        lease.renew()
        with self.db.session() as session:
            baseline_open = session.scalar(select(func.count()).select_from(Job).where(
                Job.sweep_id == sweep_id, Job.sweep_role == "baseline", Job.state.not_in(FINISHED))) or 0
            if not open_trials and not baseline_open and (asked >= budget or exhausted):
                message = (("the setting ran" if budget == 1 else f"all {budget} settings ran") if not exhausted else
                           f"the search kept proposing settings already run; {len(seen)} distinct settings ran")
                session.execute(update(Sweep).where(Sweep.id == sweep_id, Sweep.state == RUNNING).values(
                    state=SUCCEEDED, finished_at=utcnow(), message=message, revision=Sweep.revision + 1,
                    trials_snapshot=records))
                log.info("sweep %s finished: %s", sweep_id, message)
            elif new_rows or records != sweep.trials_snapshot:
                # Only a round that changed something is a new revision (pages refetch on it).
                session.execute(update(Sweep).where(Sweep.id == sweep_id, Sweep.state == RUNNING).values(
                    revision=Sweep.revision + 1, trials_snapshot=records))

    def _settle(self, study: SweepStudy, trial: TrialRecord, runs: list[Job], seeds: int) -> None:
        """Tell Optuna a trial's outcome once all its runs have finished; stop the rest of a pruned trial."""
        if any(job.state == PRUNED for job in runs):
            for job in runs:
                if job.state not in FINISHED:
                    stop_job(self.jobs, job.id, f"trial {trial.number} was pruned")
            if all(job.state in FINISHED for job in runs):
                study.prune(trial.number)
            return
        if len(runs) < seeds or any(job.state not in FINISHED for job in runs):
            return
        values = [job.best_metric for job in runs if job.state == SUCCEEDED and job.best_metric is not None]
        if len(values) == len(runs):
            study.complete(trial.number, statistics.fmean(values))
        else:
            study.fail(trial.number, ",".join(sorted({job.state for job in runs if job.state != SUCCEEDED})))


def _latest(runs: Sequence[Job]) -> dict[int, Job]:
    """The newest job of each seed (a failed run may have been run again)."""
    latest: dict[int, Job] = {}
    for job in sorted(runs, key=lambda job: job.id or 0):
        latest[job.seed_index] = job
    return latest


def _to_run(runs: Sequence[Job], seeds: int) -> list[int]:
    """Seed indexes that need a (new) job: none yet, or the last one failed (its worker died, say) and it has
    been tried fewer than RUN_ATTEMPTS times."""
    latest = _latest(runs)
    attempts = {index: sum(job.seed_index == index for job in runs) for index in latest}
    return [index for index in range(seeds) if index not in latest
            or (latest[index].state == FAILED and attempts[index] < RUN_ATTEMPTS)]
