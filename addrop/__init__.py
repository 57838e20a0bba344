"""AD-DROP: attribution-driven dropout for self-attention (Yang et al., NeurIPS 2022), for any
Hugging Face encoder that uses transformers' attention interface.

The public API::

    attribute(model, inputs, method="GA", layers=(0,))     # attention and attribution maps
    discard_masks(attribution, attention_mask, p, q)       # candidate region and dropped positions
    masked_forward(model, inputs, masks)                   # pass 2 with -inf at dropped positions
    ADDrop(model, ADDropConfig(...))                       # one AD-DROP step for any training loop
    ADDropTrainer(..., addrop=ADDropConfig(...))            # drop-in for transformers.Trainer
"""

from addrop.attribution import (
    AttentionWeights,
    AttributionResult,
    GradientAttribution,
    IntegratedGradients,
    RandomAttribution,
    attribute,
)
from addrop.dropout import ADDrop, ADDropConfig, DropPlan, masked_forward
from addrop.hooks import UnsupportedModelError, attach
from addrop.masking import discard_masks
from addrop.trainer import ADDropTrainer, CrossTuningSchedule, addrop_epochs, cross_tuning_epoch, is_addrop_epoch

__version__ = "0.1.0"

__all__ = [
    "ADDrop",
    "ADDropConfig",
    "ADDropTrainer",
    "AttentionWeights",
    "AttributionResult",
    "CrossTuningSchedule",
    "DropPlan",
    "GradientAttribution",
    "IntegratedGradients",
    "RandomAttribution",
    "UnsupportedModelError",
    "attach",
    "attribute",
    "cross_tuning_epoch",
    "discard_masks",
    "addrop_epochs",
    "is_addrop_epoch",
    "masked_forward",
]
