"""The sweep service: validates and stores sweeps, and advances them. A sweep is an Optuna study (in the same
database) whose trials run as ordinary jobs, one per seed, beside baseline twins with AD-DROP off.

Advancing is ask-and-tell from the API process: tell Optuna the trials whose runs have all finished, ask
for new ones while fewer than ``parallel`` are in flight, and create their jobs. Every step can be redone:
a trial without jobs gets them on the next round, so an API restart at any point loses no trial.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import statistics
import uuid
from datetime import datetime, timedelta
from typing import Sequence

import optuna
from anyio import to_thread
from optuna.trial import TrialState
from sqlalchemy import func, select, update

from addrop.dropout import ADDropConfig
from backend.advice import run_warnings
from backend.jobs import InvalidJob, JobConflict, JobNotFound, JobService, QueueUnavailable
from backend.schemas.sweeps import (
    CurvePoint,
    Importance,
    RunDynamics,
    SweepCreate,
    SweepCurves,
    SweepOut,
    Summary,
    TrialOut,
)
from backend.shown import shown_model, shown_spec
from jobstore import studies
from jobstore.database import Database
from jobstore.deletion import NotDeletable, delete_sweep
from jobstore.orm import (
    CANCELLED,
    FAILED,
    FINISHED,
    PRUNED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
    MetricPoint,
    Sweep,
    utcnow,
)

log = logging.getLogger(__name__)

CONTROLLER_LEASE_SECONDS = 20.0  # longer than a round takes; a crashed API's lease runs out soon
RUN_ATTEMPTS = 2  # a run that failed (e.g. its worker was killed) is run once more before its trial fails
# fANOVA over two or three trials credits whichever setting happened to differ with all of the variance
MIN_IMPORTANCE_TRIALS = 4
TRIAL_DONE = ("complete", "pruned", "failed", "cancelled")  # a trial's states that count it as finished
DUPLICATE_ASKS = 25  # proposals of already-run settings in a row after which an adaptive search is done


class SweepNotFound(JobNotFound):
    pass


class LeaseLost(Exception):
    """Another API process took over the sweep while this one was still advancing it."""


class SweepLease:
    """One API process's right to advance one sweep for ``seconds``, so that API replicas sharing a database
    never ask for the same trial twice. The expiry it wrote is its token: renewing or releasing is conditional
    on it, so a process whose round outlasted the lease finds out, and cannot release its successor's."""

    def __init__(self, db: Database, sweep_id: int, seconds: float = CONTROLLER_LEASE_SECONDS) -> None:
        self.db = db
        self.sweep_id = sweep_id
        self.seconds = seconds
        self.until: datetime | None = None

    def take(self) -> bool:
        """Hold the sweep if it is running and nobody holds it (or a holder's lease ran out)."""
        now = utcnow()
        until = now + timedelta(seconds=self.seconds)
        with self.db.session() as session:
            taken = session.execute(
                update(Sweep).where(Sweep.id == self.sweep_id, Sweep.state == RUNNING,
                                    (Sweep.controller_until.is_(None)) | (Sweep.controller_until < now))
                .values(controller_until=until)).rowcount
        self.until = until if taken else None
        return bool(taken)

    def renew(self) -> None:
        """Extend the lease before a write another controller could duplicate; :class:`LeaseLost` when it
        ran out and was taken (or the sweep was deleted)."""
        until = utcnow() + timedelta(seconds=self.seconds)
        with self.db.session() as session:
            renewed = session.execute(update(Sweep).where(Sweep.id == self.sweep_id, Sweep.controller_until == self.until)
                                      .values(controller_until=until)).rowcount
        if not renewed:
            self.until = None
            raise LeaseLost(self.sweep_id)
        self.until = until

    def release(self) -> None:
        """Let the next round (of any API process) advance the sweep at once; a no-op once lost."""
        if self.until is not None:
            with self.db.session() as session:
                session.execute(update(Sweep).where(Sweep.id == self.sweep_id, Sweep.controller_until == self.until)
                                .values(controller_until=None))
            self.until = None


def summary(values: Sequence[float]) -> Summary:
    """Mean, sample standard deviation (n - 1) and count of ``values``."""
    values = list(values)
    return Summary(mean=statistics.fmean(values) if values else None,
                   std=statistics.stdev(values) if len(values) > 1 else None, n=len(values), values=values)


class SweepService:
    """Everything the API does with sweeps."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs
        self.db = jobs.db
        self.settings = jobs.settings

    def _storage(self) -> optuna.storages.RDBStorage:
        return studies.storage(self.settings.resolved_database_url)

    # --- submitting ------------------------------------------------------------------------------

    def create(self, spec: SweepCreate) -> SweepOut:
        """Check the base job and the space, store the sweep with its Optuna study, queue the baseline
        twins and the first trials."""
        cap = self.settings.sweep_max_trials
        if spec.trial_budget() > cap:
            raise InvalidJob(f"the sweep would run {spec.trial_budget()} settings; this server allows at most {cap} "
                             "per sweep (ADDROP_SWEEP_MAX_TRIALS)")
        base = spec.base.model_copy(deep=True)
        base.addrop.enabled = True
        prepared = self.jobs.specs.prepare(base)
        num_layers = self.jobs.specs.model_layers(base.model, base.addrop.kind)  # an encoder-decoder's of that kind
        for layers in spec.space.layers:
            if max(layers) >= num_layers:
                named = f"{base.addrop.kind} " if base.addrop.kind else ""
                raise InvalidJob(f"space.layers: the model has {num_layers} {named}layers (0..{num_layers - 1}); "
                                 f"got {layers}")
        for method in spec.space.method:  # the settings the search may pick must each make a valid run
            for p in (spec.space.p[0], spec.space.p[-1]):
                try:
                    ADDropConfig(method=method, p=p, q=spec.space.q[0], layers=tuple(spec.space.layers[0]))
                except ValueError as error:
                    raise InvalidJob(f"space: {error}") from None
        size = spec.space.size()
        name = spec.name or f"{prepared.task.name} · {spec.strategy} over {size} setting{'' if size == 1 else 's'}"
        study_name = f"addrop-sweep-{uuid.uuid4().hex}"
        try:
            study = optuna.create_study(study_name=study_name, storage=self._storage(), direction="maximize")
            studies.add_prior(study, spec.space.model_dump(), [t.model_dump() for t in spec.prior])
        except Exception as error:  # the database refused (locked, unreachable): nothing was stored
            raise QueueUnavailable(f"could not create the sweep's study ({type(error).__name__})") from None
        with self.db.session() as session:
            sweep = Sweep(name=name, state=RUNNING, spec=spec.model_dump(mode="json"),
                          base_config=prepared.config, study_name=study_name, task=prepared.task.name,
                          model=base.model, metric_name=prepared.task.metric)
            session.add(sweep)
            session.flush()
            sweep_id = sweep.id
        if spec.baseline:
            self.jobs.queue_rows([self._job(sweep, None, index, seed) for index, seed in enumerate(spec.seeds)])
        log.info("sweep %s created (%s, %d settings)", sweep_id, spec.strategy, spec.trial_budget())
        self.advance(sweep_id)
        return self.get(sweep_id)

    def _job(self, sweep: Sweep, trial: tuple[int, int, dict] | None, seed_index: int, seed: int) -> Job:
        """A job row of the sweep: a trial's run (``trial`` = number, storage id, setting) or a baseline twin."""
        spec = copy.deepcopy(sweep.spec["base"])
        config = copy.deepcopy(sweep.base_config)
        spec.setdefault("training", {})["seed"] = seed
        config["seed"] = seed
        config["save_checkpoint"] = bool(sweep.spec.get("keep_checkpoints"))
        addrop = spec.setdefault("addrop", {})
        if trial is None:
            addrop["enabled"] = False
            config["addrop"] = None
            label = "baseline"
        else:
            number, _, value = trial
            addrop.update(enabled=True, **value)
            config["addrop"] = {**config["addrop"], **value}
            label = (f"trial {number} · {value['method']} {value['mode']} p={value['p']:g} q={value['q']:g} "
                     f"L{studies.layers_label(value['layers'])}")
        spec["name"] = f"{sweep.name} · {label} · seed {seed}"
        return Job(name=spec["name"][:200], state=QUEUED, spec=spec, config=config, task=sweep.task,
                   model=sweep.model, metric_name=sweep.metric_name, sweep_id=sweep.id,
                   sweep_role="baseline" if trial is None else "trial",
                   trial_number=None if trial is None else trial[0], trial_id=None if trial is None else trial[1],
                   seed_index=seed_index)

    # --- advancing -------------------------------------------------------------------------------

    def advance_all(self) -> None:
        """Advance every running sweep (called periodically by the API)."""
        with self.db.session() as session:
            ids = session.scalars(select(Sweep.id).where(Sweep.state == RUNNING).order_by(Sweep.id)).all()
        for sweep_id in ids:
            try:
                self.advance(sweep_id)
            except Exception:  # one broken sweep must not stop the others
                log.exception("advancing sweep %s failed", sweep_id)

    def advance(self, sweep_id: int) -> None:
        """One round of ask-and-tell for the sweep, unless another API process holds it right now."""
        lease = SweepLease(self.db, sweep_id)
        if not lease.take():
            return
        try:
            self._advance(sweep_id, lease)
        except LeaseLost:
            log.warning("sweep %s: the round outlasted its lease and another API process took the sweep over; "
                        "this round stops before queueing anything more", sweep_id)
        finally:
            lease.release()

    def _advance(self, sweep_id: int, lease: SweepLease) -> None:
        with self.db.session() as session:
            sweep = session.get(Sweep, sweep_id)
            jobs = session.scalars(select(Job).where(Job.sweep_id == sweep_id)).all()
        spec = SweepCreate.model_validate(sweep.spec)
        space = spec.space.model_dump()
        study = optuna.load_study(study_name=sweep.study_name, storage=self._storage())
        trials = study.get_trials(deepcopy=False)
        states_before = [trial.state for trial in trials]
        by_trial: dict[int, list[Job]] = {}
        for job in jobs:
            if job.sweep_role == "trial":
                by_trial.setdefault(job.trial_number, []).append(job)

        # Tell Optuna about trials whose runs have all finished; give a trial without its jobs its jobs.
        new_rows: list[Job] = []
        for trial in trials:
            if trial.state != TrialState.RUNNING:
                continue
            original = trial.user_attrs.get("same_as")
            if original is not None:
                self._copy_outcome(study, trial, trials[original])
                continue
            runs = by_trial.get(trial.number, [])
            missing = _to_run(runs, len(spec.seeds))
            value = studies.setting(space, trial.params)
            new_rows += [self._job(sweep, (trial.number, trial._trial_id, value), index, spec.seeds[index])
                         for index in missing]
            if not missing:
                self._settle(study, trial, list(_latest(runs).values()), len(spec.seeds))
        if spec.baseline:
            twins = [job for job in jobs if job.sweep_role == "baseline"]
            new_rows += [self._job(sweep, None, index, spec.seeds[index]) for index in _to_run(twins, len(spec.seeds))]
        if new_rows:
            lease.renew()
            self.jobs.queue_rows(new_rows)
            for row in new_rows:
                if row.sweep_role == "trial":
                    by_trial.setdefault(row.trial_number, []).append(row)

        # Ask for new trials while fewer than `parallel` run and the budget lasts. A finished trial with no
        # runs of its own was not asked by this sweep (e.g. added to the study by hand) and counts for nothing.
        trials = study.get_trials(deepcopy=False)
        own = [trial for trial in trials if "same_as" not in trial.user_attrs
               and (trial.number in by_trial or trial.state == TrialState.RUNNING)]
        prior = [trial for trial in trials if trial.user_attrs.get("prior")]
        in_flight = sum(trial.state == TrialState.RUNNING for trial in own)
        if spec.strategy == "grid":
            asked = len({trial.system_attrs["grid_id"] for trial in trials if "grid_id" in trial.system_attrs})
        else:
            asked = len(own) + len(prior)
        budget = spec.trial_budget()
        seen = {studies.setting_key(studies.setting(space, trial.params)): trial.number
                for trial in [*prior, *own] if trial.state != TrialState.FAIL}
        duplicates = 0
        exhausted = False
        distributions = studies.distributions(space, spec.strategy)
        while in_flight < spec.parallel and asked < budget:
            lease.renew()
            study.sampler = studies.sampler(spec.strategy, space, spec.sampler_seed, len(trials), budget)
            trial = study.ask(distributions)
            trials = study.get_trials(deepcopy=False)
            value = studies.setting(space, trial.params)
            key = studies.setting_key(value)
            if key in seen:
                # Same run as an earlier trial (TPE proposing it again, RD's high and low): share its runs.
                study._storage.set_trial_user_attr(trial._trial_id, "same_as", seen[key])
                duplicates += 1
                if spec.strategy == "grid":
                    asked += 1
                if duplicates >= DUPLICATE_ASKS or len(seen) >= spec.space.size():
                    exhausted = True
                    break
                continue
            seen[key] = trial.number
            self.jobs.queue_rows([self._job(sweep, (trial.number, trial._trial_id, value), index, seed)
                                  for index, seed in enumerate(spec.seeds)])
            in_flight += 1
            asked += 1

        # Finished: nothing asked remains open and the baseline twins are done.
        trials = study.get_trials(deepcopy=False)
        for trial in trials:  # duplicates asked this round whose original has already finished
            if trial.state == TrialState.RUNNING and "same_as" in trial.user_attrs:
                self._copy_outcome(study, trial, trials[trial.user_attrs["same_as"]])
        trials = study.get_trials(deepcopy=False)
        open_trials = any(trial.state == TrialState.RUNNING for trial in trials)
        lease.renew()
        with self.db.session() as session:
            baseline_open = session.scalar(select(func.count()).select_from(Job).where(
                Job.sweep_id == sweep_id, Job.sweep_role == "baseline", Job.state.not_in(FINISHED))) or 0
            if not open_trials and not baseline_open and (asked >= budget or exhausted):
                message = (("the setting ran" if budget == 1 else f"all {budget} settings ran") if not exhausted else
                           f"the search kept proposing settings already run; {len(seen)} distinct settings ran")
                session.execute(update(Sweep).where(Sweep.id == sweep_id, Sweep.state == RUNNING).values(
                    state=SUCCEEDED, finished_at=utcnow(), message=message, revision=Sweep.revision + 1))
                log.info("sweep %s finished: %s", sweep_id, message)
            elif new_rows or [trial.state for trial in trials] != states_before:
                # Only a round that changed something is a new revision (pages refetch on it).
                session.execute(update(Sweep).where(Sweep.id == sweep_id).values(revision=Sweep.revision + 1))

    def _settle(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, runs: list[Job], seeds: int) -> None:
        """Tell Optuna a trial's outcome once all its runs have finished; stop the rest of a pruned trial."""
        if any(job.state == PRUNED for job in runs):
            for job in runs:
                if job.state not in FINISHED:
                    self._stop(job.id, f"trial {trial.number} was pruned")
            if all(job.state in FINISHED for job in runs):
                study.tell(trial.number, state=TrialState.PRUNED, skip_if_finished=True)
            return
        if len(runs) < seeds or any(job.state not in FINISHED for job in runs):
            return
        values = [job.best_metric for job in runs if job.state == SUCCEEDED and job.best_metric is not None]
        if len(values) == len(runs):
            study.tell(trial.number, statistics.fmean(values), skip_if_finished=True)
        else:
            states = sorted({job.state for job in runs if job.state != SUCCEEDED})
            study._storage.set_trial_user_attr(trial._trial_id, "outcome", ",".join(states))
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)

    @staticmethod
    def _copy_outcome(study: optuna.Study, trial: optuna.trial.FrozenTrial, original: optuna.trial.FrozenTrial) -> None:
        if original.state == TrialState.COMPLETE:
            study.tell(trial.number, original.value, skip_if_finished=True)
        elif original.state in (TrialState.PRUNED, TrialState.FAIL):
            study.tell(trial.number, state=original.state, skip_if_finished=True)

    def _stop(self, job_id: int, reason: str) -> None:
        try:
            self.jobs.cancel(job_id, reason)
        except JobConflict:  # it finished meanwhile
            pass

    # --- reading ---------------------------------------------------------------------------------

    def get(self, sweep_id: int) -> SweepOut:
        """The sweep with its trials, baseline and best setting, or :class:`SweepNotFound`."""
        with self.db.session() as session:
            sweep = self._row(session, sweep_id)
            jobs = session.scalars(select(Job).where(Job.sweep_id == sweep_id).order_by(Job.id)).all()
            last = (select(func.max(MetricPoint.id)).join(Job, Job.id == MetricPoint.job_id)
                    .where(Job.sweep_id == sweep_id, MetricPoint.kind == "dynamics").group_by(MetricPoint.job_id))
            final = dict(session.execute(select(MetricPoint.job_id, MetricPoint.values)
                                         .where(MetricPoint.id.in_(last))).tuples().all())
        trials = optuna.load_study(study_name=sweep.study_name, storage=self._storage()).get_trials(deepcopy=False)
        return self.to_out(sweep, jobs, trials, final)

    def list(self, limit: int = 50, offset: int = 0) -> tuple[list[SweepOut], int]:
        """Sweeps newest first, and how many there are."""
        with self.db.session() as session:
            ids = session.scalars(select(Sweep.id).where(Sweep.deleting.is_(False)).order_by(Sweep.id.desc())
                                  .limit(limit).offset(offset)).all()
            total = session.scalar(select(func.count()).select_from(Sweep).where(Sweep.deleting.is_(False))) or 0
        return [self.get(sweep_id) for sweep_id in ids], total

    @staticmethod
    def _row(session, sweep_id: int) -> Sweep:
        sweep = session.get(Sweep, sweep_id)
        if sweep is None or sweep.deleting:  # one being deleted is gone for every reader
            raise SweepNotFound(f"there is no sweep {sweep_id}")
        return sweep

    def to_out(self, sweep: Sweep, jobs: Sequence[Job], trials: Sequence[optuna.trial.FrozenTrial],
               final_dynamics: dict[int, dict[str, float]]) -> SweepOut:
        """The API's view of a sweep (``final_dynamics``: each recording job's last dynamics point's values)."""
        spec = SweepCreate.model_validate(sweep.spec)

        def dynamics(runs: Sequence[Job]) -> RunDynamics | None:
            # the base job's masked layers: every run records them, a baseline twin too (addrop.dynamics)
            finals = [final_dynamics[job.id] for job in runs if job.id in final_dynamics]
            concentration = [statistics.fmean(values[f"concentration_L{layer}"] for layer in spec.base.addrop.layers)
                             for values in finals
                             if all(f"concentration_L{layer}" in values for layer in spec.base.addrop.layers)]
            reliance = [values["reliance"] for values in finals if "reliance" in values]
            return RunDynamics(concentration=summary(concentration), reliance=summary(reliance)) if finals else None

        space = spec.space.model_dump()
        baseline_jobs = [job for job in jobs if job.sweep_role == "baseline"]
        baseline_values = [job.best_metric for job in baseline_jobs if job.state == SUCCEEDED
                           and job.best_metric is not None]
        baseline = (summary(baseline_values) if baseline_jobs
                    else summary(spec.prior_baseline) if spec.prior_baseline else None)
        by_trial: dict[int, list[Job]] = {}
        for job in jobs:
            if job.sweep_role == "trial":
                by_trial.setdefault(job.trial_number, []).append(job)
        out: list[TrialOut] = []
        for trial in trials:
            original = trial.user_attrs.get("same_as")
            runs = by_trial.get(trial.number if original is None else original, [])
            is_prior = bool(trial.user_attrs.get("prior"))
            if original is None and not runs and not is_prior and trial.state != TrialState.RUNNING:
                continue  # not asked by this sweep
            if is_prior or (original is not None and trials[original].user_attrs.get("prior")):
                values = list(trials[trial.number if original is None else original].user_attrs["values"])
            else:
                values = [job.best_metric for job in runs if job.best_metric is not None
                          and job.state in (SUCCEEDED, PRUNED)]
            value = summary(values)
            delta = (value.mean - baseline.mean if value.mean is not None and baseline and baseline.mean is not None
                     else None)
            out.append(TrialOut(number=trial.number, state=_trial_state(trial, runs), params=studies.setting(space, trial.params),
                                value=value, delta=delta, job_ids=[job.id for job in runs],
                                seeds=[job.spec["training"]["seed"] for job in runs], same_as=original,
                                prior=is_prior, dynamics=dynamics([job for job in runs
                                                                   if job.state in (SUCCEEDED, PRUNED)])))
        complete = [trial for trial in out if trial.state == "complete" and trial.value.mean is not None]
        best = max(complete, key=lambda trial: trial.value.mean, default=None)
        # A search's proposal of a setting already run shares its runs and costs none of the budget; a grid's
        # every point counts.
        counted = [trial for trial in out if spec.strategy == "grid" or trial.same_as is None]
        finished = sum(trial.state in TRIAL_DONE for trial in counted)
        counts: dict[str, int] = {}
        for trial in out:
            counts[trial.state] = counts.get(trial.state, 0) + 1
        for job in jobs:
            counts[f"jobs.{job.state}"] = counts.get(f"jobs.{job.state}", 0) + 1
        return SweepOut(
            id=sweep.id, name=sweep.name, state=sweep.state, strategy=spec.strategy, task=sweep.task,
            model=shown_model(sweep.model, self.jobs.settings.data_dir), metric=sweep.metric_name, created_at=sweep.created_at, finished_at=sweep.finished_at,
            message=sweep.message, budget=spec.trial_budget(), finished=finished, counts=counts, baseline=baseline,
            baseline_job_ids=[job.id for job in baseline_jobs], best=best, trials=out,
            baseline_seeds=[job.spec["training"]["seed"] for job in baseline_jobs],
            baseline_dynamics=dynamics([job for job in baseline_jobs if job.state == SUCCEEDED]),
            spec={**sweep.spec, "base": shown_spec(sweep.spec["base"], self.jobs.settings.data_dir)},
            study_name=sweep.study_name, revision=sweep.revision,
            warnings=run_warnings({**sweep.spec["base"], "addrop": {**sweep.spec["base"].get("addrop", {}), "enabled": True}},
                                  runs="every trial"),
        )

    def curves(self, sweep_id: int) -> SweepCurves:
        """Every run's dev metric and loss per epoch; of a run tried again (its worker died), the last attempt."""
        with self.db.session() as session:
            sweep = self._row(session, sweep_id)
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

    def importance(self, sweep_id: int) -> Importance:
        """fANOVA importance of the searched settings over the completed trials (needs MIN_IMPORTANCE_TRIALS)."""
        out = self.get(sweep_id)
        with self.db.session() as session:
            study_name = session.scalar(select(Sweep.study_name).where(Sweep.id == sweep_id))
        study = optuna.load_study(study_name=study_name, storage=self._storage())
        complete = [trial for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if "same_as" not in trial.user_attrs]
        searched = [name for name in studies.PARAMS if len(out.spec["space"][name]) > 1]
        if not searched:
            return Importance(params={}, trials=len(complete), message="no setting is searched: each has one value")
        if len(complete) < MIN_IMPORTANCE_TRIALS:
            return Importance(params={}, trials=len(complete),
                              message=f"needs {MIN_IMPORTANCE_TRIALS} or more completed trials ({len(complete)} so far; "
                              "pruned trials and repeated proposals do not count)")
        distinct = [name for name in searched if len({repr(trial.params[name]) for trial in complete}) > 1]
        if not distinct:
            return Importance(params={}, trials=len(complete), message="the completed trials do not differ yet")
        if len({trial.value for trial in complete}) < 2:
            return Importance(params={}, trials=len(complete), message="every completed trial has the same dev metric")
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        try:
            params = optuna.importance.get_param_importances(study, evaluator=evaluator, params=distinct)
        except RuntimeError as error:  # fANOVA's trees found no variance to split
            return Importance(params={}, trials=len(complete), message=f"no importance yet: {error}")
        return Importance(params={name: float(value) for name, value in params.items()}, trials=len(complete),
                          message=None)

    # --- changing --------------------------------------------------------------------------------

    def cancel(self, sweep_id: int) -> SweepOut:
        """Stop the sweep: no new trials, its queued jobs cancelled and its running ones stopped."""
        with self.db.session() as session:
            sweep = self._row(session, sweep_id)
            changed = session.execute(update(Sweep).where(Sweep.id == sweep_id, Sweep.state == RUNNING).values(
                state=CANCELLED, finished_at=utcnow(), message="cancelled", revision=Sweep.revision + 1)).rowcount
            if not changed:
                raise JobConflict(f"sweep {sweep_id} is already {sweep.state}")
            open_jobs = session.scalars(select(Job.id).where(Job.sweep_id == sweep_id, Job.state.not_in(FINISHED))).all()
        for job_id in open_jobs:
            self._stop(job_id, f"sweep {sweep_id} was cancelled")
        study = optuna.load_study(study_name=sweep.study_name, storage=self._storage())
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study._storage.set_trial_user_attr(trial._trial_id, "outcome", "cancelled")
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        log.info("sweep %s cancelled (%d open jobs stopped)", sweep_id, len(open_jobs))
        return self.get(sweep_id)


    def delete(self, sweep_id: int) -> None:
        """Delete a finished sweep with its jobs, their files and its Optuna study; :class:`JobConflict` while it
        runs or any of its jobs has not stopped."""
        try:
            delete_sweep(self.db, self.settings, sweep_id)
        except LookupError:
            raise SweepNotFound(f"there is no sweep {sweep_id}") from None
        except NotDeletable as error:
            raise JobConflict(str(error)) from None


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


def _trial_state(trial: optuna.trial.FrozenTrial, runs: Sequence[Job]) -> str:
    if trial.state == TrialState.COMPLETE:
        return "complete"
    if trial.state == TrialState.PRUNED:
        return "pruned"
    if trial.state == TrialState.FAIL:
        return "cancelled" if trial.user_attrs.get("outcome") == "cancelled" else "failed"
    if any(job.state == PRUNED for job in runs):
        return "pruned"
    return "running" if any(job.state != QUEUED for job in runs) else "queued"


async def advance_periodically(service: SweepService, interval: float) -> None:
    """Advance running sweeps every ``interval`` seconds for as long as the app runs."""
    while True:
        try:
            await to_thread.run_sync(service.advance_all)
        except Exception:  # a database hiccup must not end the loop
            log.exception("advancing sweeps failed")
        await asyncio.sleep(interval)
