"""How much each searched setting explains of a sweep's dev metric (Optuna's fANOVA over its trials)."""

from __future__ import annotations

from backend.schemas.sweeps import Importance, SweepCreate
from backend.sweeps.views import sweep_row
from jobstore.database import Database
from jobstore.space import PARAMS
from jobstore.studies import SweepStudy

# fANOVA over two or three trials credits whichever setting happened to differ with all of the variance
MIN_IMPORTANCE_TRIALS = 4


def importance(db: Database, database_url: str, sweep_id: int) -> Importance:
    """fANOVA importance of the searched settings over the completed trials (needs MIN_IMPORTANCE_TRIALS);
    :class:`~backend.sweeps.views.SweepNotFound` for no such sweep."""
    with db.session() as session:
        sweep = sweep_row(session, sweep_id)
    space = SweepCreate.model_validate(sweep.spec).space.model_dump()
    study = SweepStudy(sweep.study_name, database_url, space)
    complete = [trial for trial in study.trials(complete_only=True) if trial.same_as is None]
    searched = [name for name in PARAMS if len(space[name]) > 1]
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
    try:
        params = study.importances(distinct)
    except RuntimeError as error:  # fANOVA's trees found no variance to split
        return Importance(params={}, trials=len(complete), message=f"no importance yet: {error}")
    return Importance(params=params, trials=len(complete), message=None)
