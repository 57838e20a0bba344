"""Which models the explorer may load: the configured list and the checkpoints of finished jobs.

Nothing a user types is ever used as a path: a request names a catalog entry, and only the catalog
knows where its weights are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal


@dataclass(frozen=True)
class CatalogEntry:
    """One model that can be explained."""

    name: str  # what requests use
    source: str  # what ``from_pretrained`` loads (hub id, directory)
    kind: Literal["configured", "checkpoint"]
    description: str = ""


class UnknownModelError(LookupError):
    """A request named a model that is neither configured nor a finished job's checkpoint."""


CheckpointSource = Callable[[], list[CatalogEntry]]


class ModelCatalog:
    """The configured models plus, through ``checkpoints``, every finished job's best checkpoint."""

    def __init__(self, configured: list[str], checkpoints: CheckpointSource | None = None) -> None:
        self._configured = [
            CatalogEntry(name=name, source=name, kind="configured", description=_describe(name)) for name in configured
        ]
        self.checkpoints: CheckpointSource = checkpoints or (lambda: [])

    def entries(self) -> list[CatalogEntry]:
        """Configured models first, then job checkpoints."""
        return self._configured + self.checkpoints()

    def resolve(self, name: str) -> CatalogEntry:
        """The entry called ``name``; :class:`UnknownModelError` with the choices otherwise."""
        # configured names first: they need no look-up of the jobs' checkpoints
        matches = [entry for entry in self._configured if entry.name == name]
        if not matches:
            matches = [entry for entry in self.checkpoints() if entry.name == name]
        if matches:
            return matches[0]
        choices = ", ".join(entry.name for entry in self.entries()) or "none"
        raise UnknownModelError(f"unknown model {name!r}; the explorer can load: {choices}")


def _describe(name: str) -> str:
    if name.lower() == "minilm":
        return "MiniLM-L6-H384 (bundled, base encoder: its classification head is untrained)"
    return name
