"""Liveness."""

from fastapi import APIRouter

from addrop import __version__
from backend.schemas.common import Health

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness")
def health() -> Health:
    """Answers as long as the server runs."""
    return Health(status="ok", version=__version__)
