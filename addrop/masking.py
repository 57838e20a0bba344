"""Candidate discard regions and dropped positions (steps 3 and 4 of an AD-DROP step)."""

from __future__ import annotations

from typing import Literal

import torch

DropMode = Literal["high", "low"]


def discard_masks(
    attribution: torch.Tensor,
    attention_mask: torch.Tensor,
    p: float,
    q: float,
    mode: DropMode = "high",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return boolean ``(candidate, dropped)`` masks shaped like ``attribution``.

    ``attribution`` is ``[..., batch, heads, n, n]`` (rows are queries, columns keys) and
    ``attention_mask`` the ``[batch, n]`` padding mask (1 = real token).  In every row of a real query,
    the candidates are the ``ceil(p * n_valid)`` valid keys with the highest attribution (lowest with
    ``mode="low"``; every key tied with the threshold value is included).  Each candidate is then
    dropped independently with probability ``q``.  Padding is never a candidate, and if a row would lose
    all its keys, the valid key ranked last for dropping is kept.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if mode not in ("high", "low"):
        raise ValueError(f"mode must be 'high' or 'low', got {mode!r}")
    if attribution.dim() < 4 or attribution.shape[-1] != attribution.shape[-2]:
        raise ValueError(f"attribution must be [..., batch, heads, n, n], got {tuple(attribution.shape)}")
    batch, n = attribution.shape[-4], attribution.shape[-1]
    if tuple(attention_mask.shape) != (batch, n):
        raise ValueError(f"attention_mask must be [batch, n] = {(batch, n)}, got {tuple(attention_mask.shape)}")

    valid_key = attention_mask.to(device=attribution.device, dtype=torch.bool)[:, None, None, :]  # [b,1,1,n]
    valid_query = valid_key.transpose(-1, -2)  # [b,1,n,1]
    n_valid = valid_key.sum(-1, keepdim=True)  # [b,1,1,1]
    k = torch.ceil(p * n_valid.double()).long().clamp(min=1)
    k = torch.minimum(k, n_valid.clamp(min=1))

    scores = attribution.detach().float() if mode == "high" else -attribution.detach().float()
    scores = scores.masked_fill(~valid_key, float("-inf"))
    kmax = int(k.max())
    top = scores.topk(kmax, dim=-1).values  # [..., b, h, n, kmax], descending
    index = (k - 1).expand(*top.shape[:-1], 1)
    threshold = top.gather(-1, index)
    candidate = (scores >= threshold) & valid_key & valid_query

    draw_device = generator.device if generator is not None else candidate.device
    draws = torch.rand(candidate.shape, generator=generator, device=draw_device).to(candidate.device)
    dropped = candidate & (draws < q)

    lost_all = (dropped.sum(-1, keepdim=True) >= n_valid) & valid_query
    if bool(lost_all.any()):
        keep = torch.nn.functional.one_hot(scores.masked_fill(~valid_key, float("inf")).argmin(-1), n).bool()
        dropped = dropped & ~(keep & lost_all)
    return candidate, dropped
