"""The FAISS store's hybrid search: dense (FAISS) + lexical (BM25), fused by
reciprocal rank. (The Milvus store runs the same fusion inside Milvus.)

BM25 reads term postings kept per segment of the index (`Postings`): built
once when a segment's documents are indexed, saved beside its vectors, and
combined at question time with collection-wide statistics (live chunks,
their mean length, each term's document frequency), so neither loading an
index nor adding a file tokenises the collection again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..chunking import terms
from ..documents.structure import lexical_context, sections
from .records import Hit, load_array

K1, B = 1.5, 0.75  # BM25's saturation and length normalisation (Lucene's, bm25s's defaults)


def chunk_terms(entry: Any) -> list[list[str]]:
    """Each chunk's BM25 terms: its own, and its sections' titles
    (documents/structure.py)."""
    titles = sections(entry.doc.blocks, entry.sentences)
    local = {(s.start, s.end): i for i, s in enumerate(entry.sentences)}
    out = []
    for chunk in entry.chunks:
        first = local[(chunk.sentences[0].start, chunk.sentences[0].end)]
        context = lexical_context(titles[first:first + len(chunk.sentences)])
        out.append((terms(chunk.text) + terms(context)) or ["_"])
    return out


@dataclass
class Postings:
    """The BM25 postings of a run of chunks (one segment's): for each term
    (sorted), the chunks that hold it and how often; and each chunk's length."""

    terms: np.ndarray  # sorted unique terms (a unicode array)
    indptr: np.ndarray  # term i's postings are [indptr[i], indptr[i + 1])
    rows: np.ndarray  # chunk rows within the run, ascending per term
    tf: np.ndarray  # term frequencies
    lengths: np.ndarray  # terms per chunk

    @classmethod
    def of(cls, chunks: Sequence[Sequence[str]]) -> Postings:
        """The postings of these chunks' terms."""
        counts = [Counter(chunk) for chunk in chunks]
        vocab = sorted(set().union(*counts)) if counts else []
        index = {term: i for i, term in enumerate(vocab)}
        term_ids = np.fromiter((index[t] for c in counts for t in c), np.int64)
        rows = np.fromiter((r for r, c in enumerate(counts) for _ in c), np.int64)
        tf = np.fromiter((n for c in counts for n in c.values()), np.float32)
        lengths = np.array([len(chunk) for chunk in chunks], np.int32)
        return cls._sorted(np.array(vocab, dtype=str), term_ids, rows, tf, lengths)

    @classmethod
    def _sorted(cls, vocab: np.ndarray, term_ids: np.ndarray, rows: np.ndarray,
                tf: np.ndarray, lengths: np.ndarray) -> Postings:
        order = np.lexsort((rows, term_ids))
        indptr = np.zeros(len(vocab) + 1, np.int64)
        np.cumsum(np.bincount(term_ids, minlength=len(vocab)), out=indptr[1:])
        return cls(vocab, indptr, rows[order].astype(np.int32), tf[order], lengths)

    @classmethod
    def merged(cls, parts: Sequence[tuple[Postings, np.ndarray]]) -> Postings:
        """One run's postings from several, keeping only the chunk rows each
        part's mask keeps, in order (a merge of segments, removed files dropped)."""
        words, rows, tfs, lengths = [], [], [], []
        base = 0
        for postings, keep in parts:
            renumber = np.cumsum(keep) - 1 + base
            term_of = np.repeat(np.arange(len(postings.terms)), np.diff(postings.indptr))
            kept = keep[postings.rows]
            words.append(postings.terms[term_of[kept]])
            rows.append(renumber[postings.rows[kept]])
            tfs.append(postings.tf[kept])
            lengths.append(postings.lengths[keep])
            base += int(keep.sum())
        if not words:
            return cls.of([])
        vocab, term_ids = np.unique(np.concatenate(words), return_inverse=True)
        return cls._sorted(vocab, term_ids.astype(np.int64), np.concatenate(rows).astype(np.int64),
                           np.concatenate(tfs), np.concatenate(lengths))

    def column(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows that hold `term`, and how often each does."""
        i = int(np.searchsorted(self.terms, term))
        if i >= len(self.terms) or self.terms[i] != term:
            return self.rows[:0], self.tf[:0]
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.rows[lo:hi], self.tf[lo:hi]

    FIELDS = ("terms", "indptr", "rows", "tf", "lengths")

    def save(self, folder: Path) -> None:
        """Each array as postings-<field>.npy in `folder` (read back mapped)."""
        for name in self.FIELDS:
            np.save(folder / f"postings-{name}.npy", getattr(self, name), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> Postings:
        """The postings saved in `folder`: memory-mapped, so a loaded index
        holds none of them; or read from the one postings.npz that segments
        written before had."""
        if (folder / "postings.npz").exists():
            saved = load_array(folder / "postings.npz", mapped=False)
        else:
            saved = {name: load_array(folder / f"postings-{name}.npy") for name in cls.FIELDS}
        return cls(*(saved[name] for name in cls.FIELDS))


class Lexical:
    """BM25 over a store snapshot's chunks, from its segments' postings: each
    segment's rows map to the snapshot's chunk rows (-1: a removed file's)."""

    def __init__(self, store: Any) -> None:
        self.parts: list[tuple[Postings, np.ndarray]] = store.postings()
        self.size = len(store.chunks)
        self.lengths = np.zeros(self.size, np.float32)
        for postings, rows in self.parts:
            live = rows >= 0
            self.lengths[rows[live]] = postings.lengths[live]
        self.average = float(self.lengths.mean()) if self.size else 1.0
        self._df: dict[str, int] = {}

    def _column(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The snapshot's rows that hold `term` (live files only), with counts."""
        found_rows, found_tf = [], []
        for postings, rows in self.parts:
            local, tf = postings.column(term)
            if len(local):
                mapped = rows[local]
                live = mapped >= 0
                found_rows.append(mapped[live])
                found_tf.append(tf[live])
        if not found_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(found_rows), np.concatenate(found_tf)

    def df(self, term: str) -> int:
        """How many live chunks hold `term`."""
        df = self._df.get(term)
        if df is None:
            df = self._df[term] = len(self._column(term)[0])
        return df

    def idf(self, term: str) -> float:
        """BM25's (Lucene) inverse document frequency; highest for terms the corpus lacks."""
        df = self.df(term)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def search(self, query_terms: list[str], n: int,
               within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top `n` chunk rows by BM25 (only rows in `within`, when given)."""
        if not self.size or not query_terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = np.zeros(self.size, np.float32)
        for term in query_terms:
            rows, tf = self._column(term)
            if not len(rows):
                continue
            self._df.setdefault(term, len(rows))
            idf = math.log(1.0 + (self.size - len(rows) + 0.5) / (len(rows) + 0.5))
            norm = K1 * (1 - B + B * self.lengths[rows] / self.average)
            scores[rows] += idf * tf / (tf + norm)
        if within is not None:
            kept = np.zeros_like(scores)
            kept[within] = scores[within]
            scores = kept
        n = min(n, self.size)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        keep = scores[top] > 0
        return top[keep], scores[top][keep]


def fuse(rankings: list[np.ndarray], rrf_k: int,
         same: Callable[[int], Any] | None = None) -> dict[int, float]:
    """Reciprocal rank fusion: sum of 1 / (rrf_k + rank) over the rankings.
    With `same` (row -> key), the rows of one key (a chunk of a file held
    twice, under two names) are one entry: ranked where the first of them
    is, so the copies do not push other chunks down, and named by the first
    row seen."""
    fused: dict[int, float] = {}
    first: dict[Any, int] = {}
    for ranking in rankings:
        seen: set[Any] = set()
        rank = 0
        for row in ranking.tolist():
            key = same(row) if same is not None else row
            if key in seen:
                continue
            seen.add(key)
            named = first.setdefault(key, row)
            fused[named] = fused.get(named, 0.0) + 1.0 / (rrf_k + rank + 1)
            rank += 1
    return fused


def hybrid_search(store: Any, lexical: Lexical, query_vector: np.ndarray,
                  query_terms: list[str], k: int, candidates: int, rrf_k: int,
                  prefer: set[str] | None = None, only: set[str] | None = None) -> list[Hit]:
    """Top `k` chunks by fused dense and BM25 rank, a chunk that two copies of
    a file hold counted once.

    Chunks of the documents in `prefer` (the previous answer's, for a
    follow-up) gain what one more first-place ranking would give them, so a
    follow-up stays with its document unless another fits far better. With
    `only` (document paths), nothing else is searched: dense scores are exact
    over those documents' chunks.
    """
    if only is not None:
        within = np.array([i for i, key in enumerate(store.chunk_key) if key in only],
                          dtype=np.int64)
        exact = store.chunk_vectors[within] @ query_vector if len(within) else np.zeros(0)
        dense_rows = within[np.argsort(-exact)[:candidates]]
        lexical_rows, _ = lexical.search(query_terms, candidates, within)
        lexical_rows = lexical_rows[np.isin(lexical_rows, within)]
    else:
        dense_rows, _ = store.dense(query_vector, candidates)
        lexical_rows, _ = lexical.search(query_terms, candidates)
    def same(row: int) -> tuple[str, int]:  # a chunk's text: its file's hash, its place
        return store.entries[store.chunk_key[row]].doc.sha256, int(store.chunk_local[row])

    fused = fuse([dense_rows, lexical_rows], rrf_k, same)
    if prefer:
        for row in fused:
            if store.chunk_key[row] in prefer:
                fused[row] += 1.0 / (rrf_k + 1)
    best = sorted(fused.items(), key=lambda item: -item[1])[:k]
    rows = np.array([row for row, _ in best], dtype=np.int64)
    dense = store.chunk_vectors[rows] @ query_vector if len(rows) else np.zeros(0)
    return [Hit(int(r), float(s), float(d)) for (r, s), d in zip(best, dense)]
