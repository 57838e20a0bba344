"""Independent random streams: every random choice of a run or an explain request draws from its own.

A stream is named by the run's (or request's) seed, a purpose and an index (a layer, an epoch, a step). Its
generator's seed is the first 32-bit word of ``SeedSequence(seed, spawn_key=(purpose, index))``: torch's CPU
generator keeps only the low 32 bits of a seed, so streams must differ there, and a hash of (seed, purpose,
index) does that where offsets such as ``seed + index * 2**32`` do not.

Keeping the streams apart is what makes a baseline twin and its AD-DROP run a paired experiment: pass 1 (its
dropout, its mask draws) reads streams of its own, so adding it changes neither the order of the data nor
pass 2's dropout.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch

MAX_SEED = 2**32 - 1

# What a stream is for: the first element of its spawn key.
DROP_STREAM = 0  # explain: a layer's drop draws (index: the layer)
NOISE_STREAM = 1  # explain: RD's attribution noise of a layer (index: the layer)
DATA_ORDER_STREAM = 2  # training: the order of the training examples (index: the epoch)
PASS1_STREAM = 3  # training: pass 1's dropout (index: the optimizer step)
MASK_STREAM = 4  # training: the drop draws of every masked layer and RD's noise (index: the optimizer step)
DYNAMICS_STREAM = 5  # attribution dynamics: the probe set (index 0) and reliance's random keys (index: epoch + 1)


def stream_seed(seed: int, purpose: int, index: int) -> int:
    """The 32-bit seed of stream ``purpose`` / ``index`` under ``seed``."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and {MAX_SEED}, got {seed}")
    return int(np.random.SeedSequence(seed, spawn_key=(purpose, index)).generate_state(1, dtype=np.uint32)[0])


# Explain streams of one kind of map (addrop.hooks.KINDS) are apart from those of the other kinds: an encoder's
# layer l keeps index l, as a one-stack model's does, and the decoder's and cross-attention's layers follow.
_KIND_OFFSETS = {"encoder": 0, "decoder": 1 << 32, "cross": 2 << 32}


def layer_stream(layer: int, kind: str | None = None) -> int:
    """The stream index of ``layer`` among the layers of ``kind`` (None: a one-stack model's layer)."""
    return _KIND_OFFSETS[kind or "encoder"] + layer


def stream_generator(seed: int, purpose: int, index: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded for stream ``purpose`` / ``index`` under ``seed``."""
    return torch.Generator(device=device).manual_seed(stream_seed(seed, purpose, index))


@contextlib.contextmanager
def isolated_rng(device: torch.device) -> Iterator[None]:
    """Random draws inside the block leave torch's global generators, the CPU's and ``device``'s (CUDA or
    MPS), as they found them."""
    if device.type in ("cuda", "mps"):
        index = device.index if device.index is not None else (torch.cuda.current_device() if device.type == "cuda" else 0)
        with torch.random.fork_rng(devices=[index], device_type=device.type):
            yield
    else:
        with torch.random.fork_rng(devices=[]):
            yield
