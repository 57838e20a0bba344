"""Training data: loading a task's train/validation splits from files or the Hub, validating them, summarising
uploaded files, and tokenising.

Modules by concern: ``splits`` (load and validate), ``files`` (find and parse data files), ``hub`` (Hub
datasets), ``labels`` (labels as classes), ``summary`` (what an uploaded file holds), ``tokenizing`` (model
inputs and collators), ``rows`` and ``errors`` (shared by the others). The names below are the package's API.
"""

from addrop.data.errors import DataError, NoDataFiles
from addrop.data.files import EXTENSIONS
from addrop.data.hub import hub_dataset_available
from addrop.data.labels import class_names
from addrop.data.splits import load_splits
from addrop.data.summary import summarize_file
from addrop.data.tokenizing import data_collator, tokenize_splits

__all__ = [
    "EXTENSIONS",
    "DataError",
    "NoDataFiles",
    "class_names",
    "data_collator",
    "hub_dataset_available",
    "load_splits",
    "summarize_file",
    "tokenize_splits",
]
