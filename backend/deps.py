"""What routes ask for with FastAPI's ``Depends``: the settings and the services ``backend.main.create_app``
builds once per app and keeps on ``app.state``. Routes take these and stay thin."""

from __future__ import annotations

from fastapi import Request

from backend.disk_usage import DiskUsage
from backend.events import JobFeed
from backend.explainer import Explainer
from backend.jobs import JobService
from backend.settings import Settings
from backend.sweeps.service import SweepService
from backend.workers import WorkerRegistry


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_jobs(request: Request) -> JobService:
    """The job service."""
    return request.app.state.jobs


def get_sweeps(request: Request) -> SweepService:
    """The sweep service."""
    return request.app.state.sweeps


def get_feed(request: Request) -> JobFeed:
    """The process's job event feed (one poller for every open stream)."""
    return request.app.state.feed


def get_explainer(request: Request) -> Explainer:
    """The explorer's models and its bounded pool."""
    return request.app.state.explainer


def get_workers(request: Request) -> WorkerRegistry:
    """The live job workers and the queue's depth."""
    return request.app.state.workers


def get_disk_usage(request: Request) -> DiskUsage:
    """The data directory's cached size."""
    return request.app.state.disk_usage
