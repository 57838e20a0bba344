"""Request and response schemas of the attribution explorer's API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from addrop.dropout import ADDropConfig
from addrop.masking import PROBABILITY_BOUNDS
from addrop.streams import MAX_SEED
from backend.schemas.common import MAX_MODEL_CHARS, AttributionMethod, StrictRequest, Text

Quantity = Literal["attention", "attribution", "candidate", "dropped"]
QUANTITIES: tuple[str, ...] = ("attention", "attribution", "candidate", "dropped")
AttentionKind = Literal["encoder", "decoder", "cross"]
Task = Literal["classification", "translation"]
MAX_INDICES = 256  # layers or heads one request may name: the largest hub models have about a hundred of each


class EncodedArray(BaseModel):
    """An n-dimensional array as base64 of its bytes: little-endian float32 in C order, or booleans packed
    eight to a byte, most significant bit first (``numpy.packbits``)."""

    dtype: Literal["float32", "bool"]
    shape: list[int]
    data: str = Field(description="base64 of the raw bytes")


class ExplainRequest(StrictRequest):
    """One input (pair) and the AD-DROP settings to explain it with."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "text": "The cat sat on the mat.",
                    "text_pair": "A cat was sitting on a mat.",
                    "model": "minilm",
                    "method": "GA",
                    "mode": "high",
                    "p": 0.3,
                    "q": 0.5,
                    "seed": 0,
                    "layers": [0],
                    "heads": None,
                    "fields": ["attention", "attribution", "candidate", "dropped"],
                },
                {
                    "text": "The cat sees the red house.",
                    "reference": "Pisica vede casa roșie.",
                    "model": "Helsinki-NLP/opus-mt-en-ro",
                    "kind": "cross",
                    "method": "GA",
                    "layers": [5],
                },
            ]
        }
    )

    text: Text = Field(description="The sentence (first sentence of a pair; a translation model's source sentence).")
    text_pair: Text | None = Field(None, description="Second sentence, for pair tasks (not for translation models).")
    reference: Text | None = Field(
        None, description="A translation model's reference translation: the decoder reads it and the attribution "
        "target is the negative loss against it. Left out, the model's own greedy translation is read and scored "
        "against its own argmax.",
    )
    kind: AttentionKind | None = Field(
        None, description="Which maps: an encoder's self-attention, a decoder's (causal) self-attention, or an "
        "encoder-decoder's cross-attention (rows: target tokens, columns: source tokens). Default: the model's "
        "first kind (a translation model's encoder); a classifier has one kind.",
    )
    model: Text = Field("minilm", min_length=1, max_length=MAX_MODEL_CHARS, description="A name from GET /api/models.")
    method: AttributionMethod = Field("GA", description="Attribution method.")
    mode: Literal["high", "low"] = Field("high", description="Candidates: highest (AD-DROP) or lowest attribution.")
    p: float = Field(ADDropConfig.p, gt=PROBABILITY_BOUNDS[0], lt=PROBABILITY_BOUNDS[1],
                     description="Fraction of each row's keys in the candidate discard region.")
    q: float = Field(ADDropConfig.q, gt=PROBABILITY_BOUNDS[0], lt=PROBABILITY_BOUNDS[1],
                     description="Probability that a candidate is dropped.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the drop draws (and of RD's noise).")
    steps: int = Field(20, ge=1, le=100, description="Integration steps for IGA.")
    layers: list[int] | None = Field(None, max_length=MAX_INDICES, description="Layers to return (default: all).")
    heads: list[int] | None = Field(None, max_length=MAX_INDICES, description="Heads to return (default: all).")
    fields: list[Quantity] = Field(list(QUANTITIES), min_length=1, max_length=len(QUANTITIES),
                                   description="Which maps to return.")

    @field_validator("text")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the text is empty; type a sentence to explain")
        return value

    @field_validator("text_pair", "reference")
    @classmethod
    def _blank_pair_is_none(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None

    @field_validator("layers", "heads")
    @classmethod
    def _distinct_sorted(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("give at least one index, or leave it out for all")
        return sorted(set(value))


class TranslationView(BaseModel):
    """A translation model's two sides: the source it read and the target its decoder read."""

    source_tokens: list[str]
    source_special: list[bool]
    target_tokens: list[str] = Field(description="What the decoder read: its start token, then the translation (or "
                                     "the reference) without its last token.")
    target_special: list[bool]
    target_labels: list[str] = Field(description="The token each target position is scored against: the next "
                                     "target token (the reference's, or the model's own argmax).")
    text: str = Field(description="The model's greedy translation.")
    reference: str | None
    target_truncated: bool = Field(description="Whether the reference was cut, or the translation stopped, at "
                                   "max_tokens.")


class ExplainResponse(BaseModel):
    """The model's view of the input; every map is ``[len(layers), len(heads), rows, keys]``: ``n x n`` over
    ``tokens`` for self-attention, ``query_tokens x tokens`` for a translation model's maps."""

    model: str
    method: str
    mode: str
    p: float
    q: float
    seed: int
    steps: int
    task: Task = Field(description="'translation' for an encoder-decoder, else 'classification'.")
    kind: AttentionKind = Field(description="The kind of the maps returned.")
    kinds: dict[str, int] = Field(description="The model's kinds of attention map, each with its number of layers.")
    causal: bool = Field(
        description="Whether the maps are causal (a decoder's self-attention: a translation model's decoder, or a "
        "decoder-only model such as GPT-2): query i attends only keys j <= i. The later keys carry no attention and "
        "are never candidates; their attribution (a gradient) is sent, but no weight flows through them."
    )
    tokens: list[str] = Field(description="The keys' tokens (the maps' columns).")
    special: list[bool] = Field(description="True for special tokens ([CLS], [SEP], <s>, ...).")
    query_tokens: list[str] | None = Field(
        None, description="The rows' tokens of a translation model's maps (the target's for the decoder's and the "
        "cross-attention, the source's for the encoder's); null where the rows are the keys, as for classifiers.",
    )
    query_special: list[bool] | None = None
    segments: list[int] = Field(description="0 for the first sentence, 1 for the second.")
    truncated: bool = Field(description="Whether the input was cut to max_tokens.")
    max_tokens: int
    num_layers: int = Field(description="Layers of the returned kind.")
    num_heads: int
    labels: list[str] = Field(description="The model's label names (for a token classifier, its tags; empty for a "
                              "translation model).")
    probabilities: list[float] = Field(
        description="Softmax of the logits (the value itself for a one-output regression head); empty for a "
        "token classifier, whose probabilities are per token (token_probabilities)."
    )
    prediction: int | None = Field(description="The predicted class (index into labels); None for a token classifier.")
    pseudo_label: int | None = Field(
        description="The class whose logit is attributed (None for the loss targets: a token classifier's pseudo "
        "labels are its token_predictions)."
    )
    target: Literal["logit", "loss", "pseudo_loss"] = Field(
        description="What is attributed: 'logit' the pseudo label's logit (sequence classification), 'loss' the "
        "negative loss, 'pseudo_loss' the negative cross-entropy of a token classifier against its pseudo "
        "labels, one per non-special token, summed."
    )
    token_predictions: list[int | None] | None = Field(
        None,
        description="A token classifier's predicted tag of each token (index into labels; the argmax of the "
        "token's logits, which is its pseudo label); None for special tokens, which are not attributed. "
        "Absent (null) for sequence-level models.",
    )
    token_probabilities: list[float | None] | None = Field(
        None, description="The probability of each token's predicted tag; aligned with token_predictions."
    )
    head_trained: bool = Field(description="False for a base encoder whose classification head is new.")
    translation: TranslationView | None = Field(None, description="A translation model's source, target and "
                                                "translation; null for classifiers.")
    layers: list[int]
    heads: list[int]
    attention: EncodedArray | None = None
    attribution: EncodedArray | None = None
    candidate: EncodedArray | None = None
    dropped: EncodedArray | None = None
    cached: bool = Field(description="True when the attribution was reused and only the masks were drawn.")


class ModelInfo(BaseModel):
    name: str
    kind: Literal["configured", "checkpoint"]
    description: str
    loaded: bool
    task: Task | None = Field(None, description="What the model explains, where known before it is loaded (a local "
                              "directory's config says): a translation model shows its kinds of map and a reference.")
