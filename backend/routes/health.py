"""Liveness, whether jobs can run (the workers seen alive and the jobs waiting for one), and the disk."""

from fastapi import APIRouter, Depends, Request

from addrop import __version__
from backend.auth import TokensLocked, may_read
from backend.deps import get_disk_usage, get_explainer, get_workers
from backend.disk_usage import DiskUsage
from backend.explainer import Explainer
from backend.schemas.health import Health, WorkerOut
from backend.worker_set_lock import waiting_for
from backend.workers import WorkerRegistry

router = APIRouter(prefix="/api", tags=["health"])


# HEAD (uptime monitors) answers as GET does, without the body; a route of its own, out of the document, since
# one route of both methods gives both operations the same operationId.
@router.head("/health", include_in_schema=False)
@router.get("/health", response_model=Health, summary="Liveness, workers and queue")
def health(request: Request, registry: WorkerRegistry = Depends(get_workers),
           disk: DiskUsage = Depends(get_disk_usage), explainer: Explainer = Depends(get_explainer)) -> Health:
    """Answers as long as the server runs, to anyone (a load balancer's probe has no token); ``workers`` lists
    the job workers alive and ``warning`` says when jobs wait with none (the server itself is still fine: 200),
    ``data_dir_bytes`` and ``disk_free_bytes`` what the data directory takes and what is left,
    ``explain_cache_bytes`` and ``explain_cache_entries`` what the explorer's cache holds. Those, which name the
    workers' hosts and their jobs, only to a client that may read jobs."""
    try:
        readable = may_read(request)
    except TokensLocked:  # an address locked out for wrong tokens still learns that the server runs
        readable = False
    if not readable:
        return Health(status="ok", version=__version__, workers=None, queued_jobs=None, warning=None,
                      data_dir_bytes=None, disk_free_bytes=None, explain_cache_bytes=None, explain_cache_entries=None)
    live = registry.live()
    queued = registry.queued_jobs()
    workers = [WorkerOut(name=w.name, last_seen=w.last_seen, busy_job_id=w.busy_job_id, gpus=w.gpus) for w in live]
    holder = waiting_for()
    if holder is not None:
        warning = (f"this server's job workers have not started: the job workers that {holder} started on this data "
                   "directory still run (a stopped server's worker finishing its job); they start once those exit")
    else:
        warning = registry.waiting_reason() if queued and not live else None
    cache_bytes, cache_entries = explainer.cache.usage()
    return Health(status="ok", version=__version__, queued_jobs=queued, workers=workers, warning=warning,
                  data_dir_bytes=disk.bytes(), disk_free_bytes=disk.free_bytes(), explain_cache_bytes=cache_bytes,
                  explain_cache_entries=cache_entries)
