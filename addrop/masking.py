"""Candidate discard regions and dropped positions (steps 3 and 4 of an AD-DROP step)."""

from __future__ import annotations

from typing import Literal

import torch

DropMode = Literal["high", "low"]
PROBABILITY_BOUNDS = (0.0, 1.0)  # p and q lie strictly between: at 0 nothing drops, at 1 a whole row could


def check_probability(name: str, value: object) -> float:
    """``value`` as p or q: a number strictly inside :data:`PROBABILITY_BOUNDS`, else a ValueError that says so.
    The one check of their range: the masks, the config, the API's schemas and the CLI use it or its bounds."""
    low, high = PROBABILITY_BOUNDS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value < high:
        raise ValueError(f"{name} must be a number in ({low:g}, {high:g}), got {value!r}")
    return float(value)


def attended_keys(rows: int, keys: int, causal: bool, device: torch.device | None = None) -> torch.Tensor:
    """``[rows, keys]``: True where row (query) ``i`` may attend key ``j``: every key, or with ``causal`` (a decoder's
    self-attention, square) the keys ``j <= i`` only.  The one rule of which keys a causal row sees: the masks are
    drawn within it, and the figures leave the other keys blank."""
    if causal and rows != keys:
        raise ValueError(f"a causal map is square, got {rows} rows and {keys} keys")
    seen = torch.ones(rows, keys, dtype=torch.bool, device=device)
    return seen.tril() if causal else seen


def discard_masks(
    attribution: torch.Tensor,
    attention_mask: torch.Tensor,
    p: float,
    q: float,
    mode: DropMode = "high",
    generator: torch.Generator | None = None,
    out: tuple[torch.Tensor, torch.Tensor] | None = None,
    causal: bool = False,
    query_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return boolean ``(candidate, dropped)`` masks shaped like ``attribution``.

    ``attribution`` is ``[..., batch, heads, n, n]`` (rows are queries, columns keys) and
    ``attention_mask`` the ``[batch, n]`` padding mask (1 = real token).  A cross-attention map is
    ``[..., batch, heads, t, n]``: ``query_mask`` (``[batch, t]``) then says which of its ``t`` rows are real,
    and ``attention_mask`` which of its ``n`` keys are.  In every row of a real query,
    the candidates are the ``ceil(p * n_valid)`` valid keys with the highest attribution (lowest with
    ``mode="low"``; every key tied with the threshold value is included).  Each candidate is then
    dropped independently with probability ``q``.  Padding is never a candidate, and if a row would lose
    all its keys, the valid key ranked last for dropping is kept.  ``out`` takes two boolean tensors
    shaped like ``attribution`` to write the masks into.  With ``causal`` (a decoder's attention) the
    valid keys of query ``i`` are the valid keys ``j <= i``: later ones are masked already, so counting
    them would shrink the region and let a row lose every key it sees.
    """
    check_probability("p", p)
    check_probability("q", q)
    if mode not in ("high", "low"):
        raise ValueError(f"mode must be 'high' or 'low', got {mode!r}")
    square = query_mask is None
    if attribution.dim() < 4 or (square and attribution.shape[-1] != attribution.shape[-2]):
        raise ValueError(f"attribution must be [..., batch, heads, n, n], got {tuple(attribution.shape)}")
    if causal and attribution.shape[-1] != attribution.shape[-2]:
        raise ValueError(f"a causal map is square, got {tuple(attribution.shape)}")
    batch, t, n = attribution.shape[-4], attribution.shape[-2], attribution.shape[-1]
    if tuple(attention_mask.shape) != (batch, n):
        raise ValueError(f"attention_mask must be [batch, n] = {(batch, n)}, got {tuple(attention_mask.shape)}")
    if not square and tuple(query_mask.shape) != (batch, t):
        raise ValueError(f"query_mask must be [batch, t] = {(batch, t)}, got {tuple(query_mask.shape)}")

    valid = attention_mask.to(device=attribution.device, dtype=torch.bool)[:, None, None, :]  # [b,1,1,n]
    rows = valid if square else query_mask.to(device=attribution.device, dtype=torch.bool)[:, None, None, :]
    valid_query = rows.transpose(-1, -2)  # [b,1,t,1]
    padded = not bool(valid.all() and rows.all())
    valid_key = valid  # the keys each row may attend: [b,1,1,n], or [b,1,n,n] when causal
    if causal:
        valid_key = valid & attended_keys(n, n, True, valid.device)
    restricted = padded or causal
    n_valid = valid_key.sum(-1, keepdim=True)  # [b,1,1,1], or [b,1,n,1] when causal
    k = torch.ceil(p * n_valid.double()).long().clamp(min=1)
    k = torch.minimum(k, n_valid.clamp(min=1))
    kmax = int(k.max())
    uniform_k = bool((k == kmax).all())

    maps = attribution.detach().reshape(-1, *attribution.shape[-4:])
    if out is None:
        out = (torch.empty(attribution.shape, dtype=torch.bool, device=maps.device),
               torch.empty(attribution.shape, dtype=torch.bool, device=maps.device))
    elif any(t.shape != attribution.shape or t.dtype != torch.bool for t in out):
        raise ValueError(f"out must be two boolean tensors of shape {tuple(attribution.shape)}")
    candidate, dropped = (t.view(maps.shape) for t in out)
    draw_device = generator.device if generator is not None else maps.device
    draws: torch.Tensor | None = None
    # one map (layer) at a time keeps the temporaries to a single [b, h, n, n] float tensor
    for index, scores in enumerate(maps):
        scores = scores.float() if mode == "high" else -scores.float()
        if restricted:
            scores = scores.masked_fill(~valid_key, float("-inf"))
        if uniform_k:  # the k-th largest is the smallest of the top k; no need to sort them
            threshold = scores.topk(kmax, dim=-1, sorted=False).values.amin(-1, keepdim=True)
        else:
            top = scores.topk(kmax, dim=-1, sorted=True).values  # [b, h, n, kmax], descending
            threshold = top.gather(-1, (k - 1).expand(*top.shape[:-1], 1))
        torch.ge(scores, threshold, out=candidate[index])
        if restricted:
            candidate[index] &= valid_key & valid_query
        if draws is None:  # one buffer for all maps: fresh large allocations cost page faults on CPU
            draws = torch.empty(scores.shape, device=draw_device)
        draws.uniform_(generator=generator)
        torch.lt(draws.to(maps.device), q, out=dropped[index])
        dropped[index] &= candidate[index]
        gone = dropped[index] | ~valid_key if restricted else dropped[index]  # dropped or not attended
        lost_all = gone.all(-1, keepdim=True) & valid_query  # a boolean all() costs 40% of a sum()
        if bool(lost_all.any()):
            # keep the valid key ranked last for dropping
            keep = torch.nn.functional.one_hot(scores.masked_fill(~valid_key, float("inf")).argmin(-1), n).bool()
            dropped[index] &= ~(keep & lost_all)
    return out
