"""Which models the explorer may load: the configured list and the checkpoints of finished jobs.

Nothing a user types is ever used as a path: a request names a catalog entry, and only the catalog
knows where its weights are. Nor does a client ever see a path: a configured directory is listed by a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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
        self._configured: list[CatalogEntry] = []
        for spec in configured:
            first, source = _named_source(spec)
            taken = {known.name for known in self._configured}
            name, count = first, 1
            while name in taken:  # two directories of one name: the later ones get -2, -3, ...
                count += 1
                name = f"{first}-{count}"
            self._configured.append(CatalogEntry(name=name, source=source, kind="configured",
                                                 description=_describe(name, source)))
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


def _named_source(spec: str) -> tuple[str, str]:
    """The name and the source of one configured model: ``name=source`` names it; a hub id is its own name; a
    local directory is named by its last component, so that its path on the server reaches no client (the model
    list, a figure's title and file name)."""
    name, separator, source = spec.partition("=")
    if not (separator and name.strip() and "/" not in name):
        name, source = spec, spec
        if _is_local(spec):
            last = Path(spec).expanduser().name
            name = last if last not in ("", ".", "..") else "model"
    if _is_local(source):
        source = str(Path(source).expanduser())
    return name.strip(), source


def _is_local(source: str) -> bool:
    """Whether ``from_pretrained`` reads ``source`` from this machine's disk rather than the Hub."""
    return source.startswith(("/", "./", "../", "~")) or source in (".", "..") or Path(source).is_dir()


def _describe(name: str, source: str) -> str:
    if source.lower() == "minilm":
        return "MiniLM-L6-H384 (bundled, base encoder: its classification head is untrained)"
    if _is_local(source):
        return f"{name} (a local model)"
    return name if source == name else f"{name} ({source} from the Hub)"
