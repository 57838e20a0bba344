"""Which positions of each kind of attention map are real, from a batch's inputs.

An encoder's self-attention map is source x source, a decoder's self-attention map target x target (causal),
and an encoder-decoder's cross-attention map target x source. Padding of either side is never a candidate for
dropping, and a padded target row counts in no attribution target.
"""

from __future__ import annotations

from typing import Mapping

import torch

IGNORED = -100  # the label of a position left out of the loss (transformers' losses and collators use it)


def target_mask(inputs: Mapping[str, torch.Tensor], pad_token_id: int | None) -> torch.Tensor | None:
    """``[batch, t]``: the real positions of the decoder's input; None when the inputs have no target side.

    From ``decoder_attention_mask`` where given; else from ``labels`` (the decoder reads the labels shifted right
    after its start token, so position ``i`` is real when it is the first or label ``i - 1`` is); else from
    ``decoder_input_ids`` (the first position, the start token, is real even where it is the pad token, as in
    Marian; later pad tokens are padding)."""
    if inputs.get("decoder_attention_mask") is not None:
        return inputs["decoder_attention_mask"].bool()
    labels = inputs.get("labels")
    if labels is not None and labels.dim() == 2:
        real = labels != IGNORED
        if pad_token_id is not None:
            real &= labels != pad_token_id
        return torch.cat([torch.ones_like(real[:, :1]), real[:, :-1]], dim=1)
    ids = inputs.get("decoder_input_ids")
    if ids is None:
        return None
    real = torch.ones_like(ids, dtype=torch.bool) if pad_token_id is None else ids != pad_token_id
    real[:, 0] = True
    return real


def map_masks(
    inputs: Mapping[str, torch.Tensor], kind: str, encoder_decoder: bool, pad_token_id: int | None
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``(query_mask, key_mask)`` of a map of ``kind``: the rows' and the keys' real positions, ``query_mask``
    None where the rows are the keys (a self-attention map)."""
    source = inputs["attention_mask"]
    if not encoder_decoder or kind == "encoder":
        return None, source
    target = target_mask(inputs, pad_token_id)
    if target is None:
        raise ValueError(f"the {kind} attention of an encoder-decoder needs its target side in the inputs "
                         "(labels, decoder_input_ids or decoder_attention_mask)")
    return (None, target) if kind == "decoder" else (target, source)
