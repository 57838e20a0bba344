"""``POST /api/explain``: attention, attribution, candidate region and dropped positions for one input."""

from fastapi import APIRouter, Depends, HTTPException, Request

from addrop.hooks import UnsupportedModelError
from addrop.models import ModelLoadError
from backend.auth import require_token_for_explain
from backend.catalog import UnknownModelError
from backend.explainer import InvalidExplainRequest
from backend.schemas.common import ErrorMessage, ValidationProblem
from backend.schemas.explain import ExplainRequest, ExplainResponse

router = APIRouter(prefix="/api", tags=["explorer"])


@router.post(
    "/explain",
    response_model=ExplainResponse,
    summary="Explain one input",
    dependencies=[Depends(require_token_for_explain)],
    responses={401: {"model": ErrorMessage, "description": "API token missing or wrong (when explain needs it)"},
               404: {"model": ErrorMessage}, 422: {"model": ValidationProblem}, 503: {"model": ErrorMessage}},
)
def explain(body: ExplainRequest, request: Request) -> ExplainResponse:
    """Attribute the input's prediction to the attention maps of the requested layers and heads, and draw
    AD-DROP's candidate discard region (top-p per row) and dropped positions (each candidate with
    probability q).  The same input with other p, q, mode or seed reuses the attribution."""
    try:
        return request.app.state.explainer.explain(body)
    except UnknownModelError as error:
        raise HTTPException(404, str(error)) from error
    except (InvalidExplainRequest, UnsupportedModelError) as error:
        raise HTTPException(422, str(error)) from error
    except ModelLoadError as error:
        raise HTTPException(503, str(error)) from error
