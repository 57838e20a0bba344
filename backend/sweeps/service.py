"""The sweep service: everything the API does with sweeps. It validates and stores a sweep with its Optuna
study (in the same database), cancels and deletes one, and hands advancing and reading to ``rounds``,
``views`` and ``importance``."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import update

from addrop.dropout import ADDropConfig
from backend.job_errors import InvalidJob, JobConflict, QueueUnavailable
from backend.jobs import JobService
from backend.schemas.sweeps import Importance, SweepCreate, SweepCurves, SweepOut
from backend.sweeps.importance import importance
from backend.sweeps.lease import CONTROLLER_LEASE_SECONDS, LeaseLost, SweepLease
from backend.sweeps.rounds import SweepRounds, job_row
from backend.sweeps.views import SweepNotFound, SweepViews, sweep_row
from jobstore.deletion import NotDeletable, delete_sweep
from jobstore.orm import RUNNING, Sweep
from jobstore.strategies import STRATEGIES
from jobstore.studies import SweepStudy, snapshot

log = logging.getLogger("backend.sweeps")


class SweepService:
    """Everything the API does with sweeps."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs
        self.db = jobs.db
        self.settings = jobs.settings
        self.rounds = SweepRounds(jobs)
        self.views = SweepViews(jobs.db, jobs.settings.resolved_database_url, jobs.settings.data_dir)

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
            study = SweepStudy.create(study_name, self.settings.resolved_database_url, spec.space.model_dump(),
                                      STRATEGIES[spec.strategy], [t.model_dump() for t in spec.prior])
            trials = study.trials()  # the prior settings: nothing else can touch the study before the row exists
        except Exception as error:  # the database refused (locked, unreachable): nothing was stored
            raise QueueUnavailable(f"could not create the sweep's study ({type(error).__name__})") from None
        with self.db.session() as session:
            sweep = Sweep(name=name, state=RUNNING, spec=spec.model_dump(mode="json"),
                          base_config=prepared.config, study_name=study_name, task=prepared.task.name,
                          model=base.model, metric_name=prepared.task.metric, trials_snapshot=snapshot(trials))
            session.add(sweep)
            session.flush()
            sweep_id = sweep.id
        if spec.baseline:
            self.jobs.queue_rows([job_row(sweep, None, index, seed) for index, seed in enumerate(spec.seeds)])
        log.info("sweep %s created (%s, %d settings)", sweep_id, spec.strategy, spec.trial_budget())
        # the first trials are queued before the answer, also when a periodic round (of this or another API
        # process) took the new sweep first: it lets go within a round's milliseconds
        self.rounds.advance(sweep_id, wait=CONTROLLER_LEASE_SECONDS)
        return self.get(sweep_id)

    def get(self, sweep_id: int) -> SweepOut:
        """The sweep with its trials, baseline and best setting, or :class:`SweepNotFound`."""
        return self.views.get(sweep_id)

    def list(self, limit: int = 50, offset: int = 0) -> tuple[list[SweepOut], int]:
        """Sweeps newest first, and how many there are."""
        return self.views.list(limit, offset)

    def curves(self, sweep_id: int) -> SweepCurves:
        """Every run's dev metric and loss per epoch (of a run tried again, the last attempt)."""
        return self.views.curves(sweep_id)

    def importance(self, sweep_id: int) -> Importance:
        """fANOVA importance of the searched settings over the completed trials."""
        return importance(self.db, self.settings.resolved_database_url, sweep_id)

    def cancel(self, sweep_id: int) -> SweepOut:
        """Stop the sweep: no new trials, its queued jobs cancelled and its running ones stopped. It holds the
        sweep's lease meanwhile, as a round does, so no round is half way through asking a trial when it fails
        the running trials and keeps what the study then holds. The cancel is recorded first: one cut short (the
        process died) is finished by the next round, with the same code (``SweepRounds.finish_cancel``)."""
        with self.db.session() as session:
            sweep_row(session, sweep_id)
        lease = SweepLease(self.db, sweep_id)
        if not lease.take(wait=CONTROLLER_LEASE_SECONDS):
            with self.db.session() as session:
                state = sweep_row(session, sweep_id).state
            raise JobConflict(f"sweep {sweep_id} is already {state}" if state != RUNNING
                              else f"sweep {sweep_id} is busy being advanced; try again")
        try:
            with self.db.session() as session:
                session.execute(update(Sweep).where(Sweep.id == sweep_id).values(cancel_requested=True))
            stopped = self.rounds.finish_cancel(sweep_id, lease)
        except LeaseLost:
            # the cancel is recorded, and the process that took the sweep over finishes it
            log.warning("sweep %s: its cancel outlasted the lease; another API process's round finishes it", sweep_id)
            return self.get(sweep_id)
        finally:
            lease.release()
        log.info("sweep %s cancelled (%d open jobs stopped)", sweep_id, stopped)
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
