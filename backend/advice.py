"""What a job or sweep request will do that its settings do not say at a glance: the epochs that drop, and
warnings shown when it is submitted and on its page (the request is still accepted: it may be meant)."""

from __future__ import annotations

from typing import Any

from addrop.trainer import addrop_epochs


def dropping_epochs(spec: dict[str, Any]) -> list[int]:
    """The epochs (from 1) that train with AD-DROP in the run a job spec describes."""
    addrop = spec.get("addrop") or {}
    if addrop.get("enabled") is False:
        return []
    return addrop_epochs(int((spec.get("training") or {}).get("epochs") or 0), addrop.get("cross_tuning", True))


def run_warnings(spec: dict[str, Any], runs: str = "this job") -> list[str]:
    """Warnings about the run a job spec describes; ``runs`` names who runs it in the message."""
    addrop = spec.get("addrop") or {}
    if addrop.get("enabled") is False or dropping_epochs(spec):
        return []
    epochs = int((spec.get("training") or {}).get("epochs") or 0)
    return [f"cross-tuning drops only in even epochs (2, 4, …): with {epochs} epoch {runs} never drops and "
            "trains like a baseline; give it 2 epochs or more, or turn cross-tuning off"]
