"""qa's answer model: a MiniLM-L6 cross-encoder that reads a question with one
candidate sentence and says how likely the sentence answers it, with a span
head that marks the short answer inside it.

Trained by benchmarks/train_answer_model.py on SQuAD v1.1's training set and
SQuAD 2.0's unanswerable training questions (model card:
qa/answering/models/README.md), shipped as int8 ONNX and run by onnxruntime
with the packaged model's tokenizer: no torch at question time. It reads
English (its base model's and its data's language); other languages keep the
fitted ranker alone.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODELS = Path(__file__).with_name("models")
MODEL_FILE = MODELS / "answer-minilm.int8.onnx"
CARD_FILE = MODELS / "answer-minilm.json"


@dataclass
class Reading:
    """The model's reading of one question against its candidate sentences."""

    logits: np.ndarray  # per sentence: log-odds that it answers
    spans: list[tuple[int, int] | None]  # per sentence: the short answer's char offsets

    @property
    def probabilities(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits))


class AnswerModel:
    """The int8 ONNX answer model, loaded once on first use (thread-safe)."""

    _shared: AnswerModel | None = None
    _shared_lock = threading.Lock()

    def __init__(self, path: Path = MODEL_FILE) -> None:
        self.path = path
        card = json.loads(CARD_FILE.read_text(encoding="utf-8")) if CARD_FILE.exists() else {}
        self.max_tokens = int(card.get("max_tokens", 128))
        self.longest_span = int(card.get("longest_span", 30))
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> AnswerModel | None:
        """The shipped model, or None when the package carries none."""
        if not MODEL_FILE.exists():
            return None
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls(MODEL_FILE)
            return cls._shared

    @classmethod
    def required(cls) -> AnswerModel:
        """The shipped model, loaded now (QA_ANSWER_MODEL=1, the default, asks for it).

        Raises:
            QAError: the file is missing or damaged, in one line naming it.
        """
        from ..errors import QAError

        fix = "reinstall qa (pip install -e .), or set QA_ANSWER_MODEL=0 to answer without it"
        model = cls.shared()
        if model is None:
            raise QAError(f"the answer model {MODEL_FILE} is missing; {fix}")
        try:
            model._load()
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            detail = " ".join(str(exc).split())[:100]
            raise QAError(f"the answer model {MODEL_FILE} is damaged ({type(exc).__name__}: "
                          f"{detail}); {fix}") from None
        return model

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                from ..embeddings import packaged_model_path

                options = ort.SessionOptions()
                options.intra_op_num_threads = os.cpu_count() or 1
                session = ort.InferenceSession(str(self.path), options,
                                               providers=["CPUExecutionProvider"])
                tokenizer = Tokenizer.from_file(str(packaged_model_path() / "tokenizer.json"))
                tokenizer.enable_truncation(self.max_tokens, strategy="only_second")
                tokenizer.enable_padding()
                self._session, self._tokenizer = session, tokenizer
            return self._session, self._tokenizer

    def read(self, question: str, sentences: list[str], spans: bool = True) -> Reading:
        """Score every sentence against the question (one batch)."""
        if not sentences:
            return Reading(np.zeros(0, dtype=np.float32), [])
        session, tokenizer = self._load()
        encoded = tokenizer.encode_batch([(question, s) for s in sentences])
        feed = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64)}
        score, start, end = session.run(None, feed)
        found = [self._span(e, start[i], end[i]) if spans else None
                 for i, e in enumerate(encoded)]
        return Reading(score.astype(np.float32), found)

    def _span(self, encoding: Any, start: np.ndarray, end: np.ndarray
              ) -> tuple[int, int] | None:
        """The best (start, end) char offsets in the sentence: end within
        `longest_span` tokens of start, both inside the sentence."""
        inside = np.array([sid == 1 and b > a for sid, (a, b) in
                           zip(encoding.sequence_ids, encoding.offsets)])
        where = np.flatnonzero(inside)
        if not len(where):
            return None
        s, e = start[where], end[where]
        pair = s[:, None] + e[None, :]
        i, j = np.indices(pair.shape)
        pair[(j < i) | (j >= i + self.longest_span)] = -np.inf
        best = int(np.argmax(pair))
        a, b = divmod(best, pair.shape[1])
        return encoding.offsets[where[a]][0], encoding.offsets[where[b]][1]
