"""``GET /api/models``: what the explorer can load."""

from fastapi import APIRouter, Request

from backend.schemas.explain import ModelInfo

router = APIRouter(prefix="/api", tags=["explorer"])


@router.get("/models", response_model=list[ModelInfo], summary="Models the explorer can load")
def list_models(request: Request) -> list[ModelInfo]:
    """The configured models, then the best checkpoints of finished fine-tuning jobs."""
    return request.app.state.explainer.models()
