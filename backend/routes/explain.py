"""``POST /api/explain``: attention, attribution, candidate region and dropped positions for one input."""

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import TypeAdapter

from addrop.hooks import UnsupportedModelError
from addrop.models import ModelLoadError
from backend.auth import require_token_for_explain
from backend.catalog import UnknownModelError
from backend.deps import get_explainer
from backend.explainer import ExplainAbandoned, ExplainBusy, InvalidExplainRequest
from backend.explainer import Explainer
from backend.schemas.common import ErrorMessage, ValidationProblem
from backend.schemas.explain import ExplainRequest, ExplainResponse

router = APIRouter(prefix="/api", tags=["explorer"])
# nginx's "client closed request": nobody reads it, but the access log then says what happened
CLIENT_LEFT = 499
ANSWER = TypeAdapter(ExplainResponse)


@router.post(
    "/explain",
    response_model=ExplainResponse,
    summary="Explain one input",
    dependencies=[Depends(require_token_for_explain)],
    responses={401: {"model": ErrorMessage, "description": "API token missing or wrong (when explain needs it)"},
               404: {"model": ErrorMessage}, 422: {"model": ValidationProblem},
               503: {"model": ErrorMessage, "description": "The model could not be loaded, or the explorer is busy "
                     "(then with a Retry-After header, in seconds)"}},
)
async def explain(body: ExplainRequest, request: Request, explainer: Explainer = Depends(get_explainer)) -> Response:
    """Attribute the input's prediction to the attention maps of the requested layers and heads, and draw
    AD-DROP's candidate discard region (top-p per row) and dropped positions (each candidate with
    probability q).  The same input with other p, q, mode or seed reuses the attribution.  For a token
    classifier (a CoNLL-2003 job's checkpoint) the attributed target is the negative loss against its own
    predicted tags, one per non-special token, which come back in ``token_predictions``."""

    def answer() -> bytes:
        # Written to JSON on the pool's thread too: megabytes of maps would hold the event loop for tens of
        # milliseconds each, and every other request with it.
        return ANSWER.dump_json(explainer.explain(body))

    try:
        content = await explainer.pool.run(request, answer, costly=explainer.costly(body))
    except ExplainBusy as error:
        raise HTTPException(503, str(error), headers={"Retry-After": str(error.retry_after)}) from None
    except ExplainAbandoned:
        return Response(status_code=CLIENT_LEFT)
    except UnknownModelError as error:
        raise HTTPException(404, str(error)) from error
    except (InvalidExplainRequest, UnsupportedModelError) as error:
        raise HTTPException(422, str(error)) from error
    except ModelLoadError as error:
        raise HTTPException(503, str(error)) from error
    return Response(content, media_type="application/json")
