"""``GET /api/models``: what the explorer can load."""

from fastapi import APIRouter, Depends

from backend.deps import get_explainer
from backend.explainer import Explainer
from backend.routes.jobs import READ, READ_ERRORS
from backend.schemas.explain import ModelInfo

router = APIRouter(prefix="/api", tags=["explorer"])


@router.get("/models", response_model=list[ModelInfo], dependencies=READ, responses=READ_ERRORS,
            summary="Models the explorer can load")
def list_models(explainer: Explainer = Depends(get_explainer)) -> list[ModelInfo]:
    """The configured models, then the best checkpoints of finished fine-tuning jobs."""
    return explainer.models()
