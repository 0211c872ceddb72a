"""Documents with their sentences, chunks and vectors, as flat rows in memory.

`Records` is what retrieval and answering read: chunk rows and sentence rows,
with the sentence rows of each document contiguous and in order (so row - 1
is the sentence before, within one key). The FAISS store is a `Records` over
the whole index; the Milvus store builds a small one per question, holding
only what its hits need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .. import naming
from ..chunking import Chunk, Span
from ..documents import Document, structure


@dataclass
class Entry:
    """One document with its sentences, chunks and their vectors."""

    doc: Document
    sentences: list[Span]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


class Records:
    """Entries by key (a document path), with flat views for search and answers.

    Views: `chunks`, `chunk_vectors`, `chunk_sentence_rows` (each chunk's
    sentence rows), `chunk_means` (unit mean of those sentences' vectors),
    `sentence_spans`, `sentence_vectors`, `sentence_doc` (each sentence
    row's entry key), `sentence_kind` and `sentence_section` (its block kind
    and section path, documents/structure.py).
    """

    def __init__(self, dimension: int, entries: dict[str, Entry] | None = None) -> None:
        self.dimension = dimension
        self.entries = entries or {}
        self._flatten()

    def _flatten(self) -> None:
        self._files: dict[str, dict[str, Any]] | None = None
        self.chunks: list[Chunk] = []
        self.chunk_sentence_rows: list[range] = []
        self.sentence_doc: list[str] = []
        self.sentence_spans: list[Span] = []
        self.sentence_kind: list[str] = []
        self.sentence_section: list[str] = []
        chunk_vecs, sent_vecs = [], []
        for key, entry in self.entries.items():
            base = len(self.sentence_spans)
            local = {(s.start, s.end): i for i, s in enumerate(entry.sentences)}
            for chunk in entry.chunks:
                first = local[(chunk.sentences[0].start, chunk.sentences[0].end)]
                self.chunks.append(chunk)
                self.chunk_sentence_rows.append(range(base + first, base + first + len(chunk.sentences)))
            self.sentence_spans.extend(entry.sentences)
            self.sentence_doc.extend([key] * len(entry.sentences))
            self.sentence_kind.extend(structure.kinds(entry.doc.blocks, entry.sentences))
            self.sentence_section.extend(structure.sections(entry.doc.blocks, entry.sentences))
            chunk_vecs.append(entry.chunk_vectors)
            sent_vecs.append(entry.sentence_vectors)
        empty = np.zeros((0, self.dimension), dtype=np.float32)
        self.chunk_vectors = np.vstack(chunk_vecs) if chunk_vecs else empty
        # Sentence vectors in float16: the largest array (several sentences a
        # chunk) at half the memory and disk; cosines move by under 1e-3.
        self.sentence_vectors = (np.vstack(sent_vecs) if sent_vecs else empty).astype(np.float16)
        del chunk_vecs, sent_vecs
        # Each entry's vectors become views into the flat arrays, so the corpus's
        # vectors are held once, not once per entry and again flattened.
        chunk_at = sentence_at = 0
        for entry in self.entries.values():
            entry.chunk_vectors = self.chunk_vectors[chunk_at:chunk_at + len(entry.chunks)]
            entry.sentence_vectors = self.sentence_vectors[
                sentence_at:sentence_at + len(entry.sentences)]
            chunk_at += len(entry.chunks)
            sentence_at += len(entry.sentences)
        # Unit mean of each chunk's sentence vectors (an answer-scoring feature).
        self.chunk_means = np.zeros((len(self.chunks), self.dimension), dtype=np.float32)
        for row, rows in enumerate(self.chunk_sentence_rows):
            self.chunk_means[row] = self.sentence_vectors[rows.start:rows.stop].sum(
                axis=0, dtype=np.float32)
        self.chunk_means /= np.maximum(
            np.linalg.norm(self.chunk_means, axis=1, keepdims=True), 1e-12)

    def document(self, key: str) -> Document:
        return self.entries[key].doc

    def passage(self, key: str, start: int, end: int) -> str:
        """The stored text of document `key` at [start, end)."""
        return self.entries[key].doc.text[start:end]

    def files(self) -> dict[str, dict[str, Any]]:
        """Per indexed file: display name, sha256, chunk count, the file on
        disk it was read from (itself, or the mail an attachment came in), its
        title, and its sentences by kind (body, heading, caption, ...)."""
        if self._files is None:  # once per snapshot: questions read it (named documents)
            self._files = {
                path: {"source": e.doc.source, "sha256": e.doc.sha256, "chunks": len(e.chunks),
                       "container": e.doc.file, "title": naming.title(e.doc),
                       "sentences": structure.counts(e.doc.blocks, e.sentences)}
                for path, e in self.entries.items()
            }
        return {path: dict(info) for path, info in self._files.items()}


@dataclass
class Hit:
    """A retrieved chunk: its row in the store and its scores."""

    row: int
    score: float  # fused RRF score
    dense: float  # cosine of the query to the chunk


class Found(NamedTuple):
    """What a store's search returns: the records the hits point into, the
    hits for each query (Hit, best first), and the collection's
    inverse document frequency for the queries' terms."""

    records: Records
    hits: list[list[Any]]
    idf: Callable[[str], float]


class TextWindow(str):
    """A stretch of a document's text, indexed by offsets into the whole document.

    The Milvus store keeps no whole documents in memory: a question's records
    hold, per document, the runs of sentences its hits need. Slicing with
    document offsets inside the run gives the same text as the whole would.
    """

    offset: int

    def __new__(cls, text: str, offset: int) -> TextWindow:
        window = super().__new__(cls, text)
        window.offset = offset
        return window

    def __getitem__(self, key: Any) -> str:  # type: ignore[override]
        if isinstance(key, slice):
            start = None if key.start is None else max(0, key.start - self.offset)
            stop = None if key.stop is None else max(0, key.stop - self.offset)
            return str.__getitem__(self, slice(start, stop, key.step))
        return str.__getitem__(self, key - self.offset)
