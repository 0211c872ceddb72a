"""The FAISS store's hybrid search: dense (FAISS) + lexical (BM25, bm25s), fused
by reciprocal rank. (The Milvus store runs the same fusion inside Milvus.)"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from ..chunking import terms
from ..documents.structure import lexical_context
from .records import Hit
from .records import Records as Store


class Lexical:
    """BM25 over a store's chunks (bm25s), built once per store snapshot."""

    def __init__(self, store: Store) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG
        self.size = len(store.chunks)
        self._bm25 = None
        self._df: dict[str, int] = {}
        if self.size:
            self._bm25 = bm25s.BM25()
            # A chunk's terms, and its sections' titles (documents/structure.py).
            self._bm25.index([(terms(chunk.text) + terms(lexical_context(
                [store.sentence_section[r] for r in rows]))) or ["_"]
                for chunk, rows in zip(store.chunks, store.chunk_sentence_rows)],
                show_progress=False)
            # Document frequencies straight from bm25s's term-by-document matrix
            # (one column per term), rather than a second pass over the tokens.
            counts = np.diff(self._bm25.scores["indptr"])
            self._df = {t: int(counts[i]) for t, i in self._bm25.vocab_dict.items()
                        if i < len(counts)}

    def idf(self, term: str) -> float:
        """BM25's (Lucene) inverse document frequency; highest for terms the corpus lacks."""
        df = self._df.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def search(self, query_terms: list[str], n: int,
               within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top `n` chunk rows by BM25 (only rows in `within`, when given)."""
        if self._bm25 is None or not query_terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self._bm25.get_scores(query_terms)
        if within is not None:
            kept = np.zeros_like(scores)
            kept[within] = scores[within]
            scores = kept
        n = min(n, self.size)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        keep = scores[top] > 0
        return top[keep], scores[top][keep]


def fuse(rankings: list[np.ndarray], rrf_k: int) -> dict[int, float]:
    """Reciprocal rank fusion: sum of 1 / (rrf_k + rank) over the rankings."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking.tolist()):
            fused[row] = fused.get(row, 0.0) + 1.0 / (rrf_k + rank + 1)
    return fused


def hybrid_search(store: Any, lexical: Lexical, query_vector: np.ndarray,
                  query_terms: list[str], k: int, candidates: int, rrf_k: int,
                  prefer: set[str] | None = None, only: set[str] | None = None) -> list[Hit]:
    """Top `k` chunks by fused dense and BM25 rank.

    Chunks of the documents in `prefer` (the previous answer's, for a
    follow-up) gain what one more first-place ranking would give them, so a
    follow-up stays with its document unless another fits far better. With
    `only` (document paths), nothing else is searched: dense scores are exact
    over those documents' chunks.
    """
    if only is not None:
        within = np.array([i for i, c in enumerate(store.chunks) if c.path in only],
                          dtype=np.int64)
        exact = store.chunk_vectors[within] @ query_vector if len(within) else np.zeros(0)
        dense_rows = within[np.argsort(-exact)[:candidates]]
        lexical_rows, _ = lexical.search(query_terms, candidates, within)
        lexical_rows = lexical_rows[np.isin(lexical_rows, within)]
    else:
        dense_rows, _ = store.dense(query_vector, candidates)
        lexical_rows, _ = lexical.search(query_terms, candidates)
    fused = fuse([dense_rows, lexical_rows], rrf_k)
    if prefer:
        for row in fused:
            if store.chunks[row].path in prefer:
                fused[row] += 1.0 / (rrf_k + 1)
    best = sorted(fused.items(), key=lambda item: -item[1])[:k]
    rows = np.array([row for row, _ in best], dtype=np.int64)
    dense = store.chunk_vectors[rows] @ query_vector if len(rows) else np.zeros(0)
    return [Hit(int(r), float(s), float(d)) for (r, s), d in zip(best, dense)]
