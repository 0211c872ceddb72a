"""Documents with their sentences, chunks and vectors, as flat rows in memory.

`Records` is what retrieval and answering read: chunk rows and sentence rows,
with the sentence rows of each document contiguous and in order (so row - 1
is the sentence before, within one key). The FAISS store is a `Records` over
the whole index; the Milvus store builds a small one per question, holding
only what its hits need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress
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

    def _flatten(self, base: Records | None = None, dropped: frozenset[str] = frozenset()
                 ) -> None:
        """Build the flat views. With `base` (an earlier snapshot whose entries,
        less `dropped`, open this one's in the same order), its views are
        reused: only the entries after them are read, so a change costs what
        it adds, plus copying arrays."""
        kept = [p for p in base.entries if p not in dropped] if base is not None else []
        keys = list(self.entries)
        if base is None or keys[:len(kept)] != kept:
            base, kept = None, []
        self._files: dict[str, dict[str, Any]] = {}
        chunk_vecs, sent_vecs, means = [], [], []
        if base is not None:
            paths = list(base.entries)
            live = np.array([p not in dropped for p in paths], bool)
            chunk_keep = np.repeat(live, [len(base.entries[p].chunks) for p in paths])
            sent_keep = np.repeat(live, [len(base.entries[p].sentences) for p in paths])
            shift = np.concatenate([[0], np.cumsum(~sent_keep)])
            starts = base.chunk_sentence_rows.starts[chunk_keep]
            starts = [starts - shift[starts]]
            counts = [base.chunk_sentence_rows.counts[chunk_keep]]
            self.chunks = list(compress(base.chunks, chunk_keep))
            self.sentence_doc = list(compress(base.sentence_doc, sent_keep))
            self.sentence_spans = list(compress(base.sentence_spans, sent_keep))
            self.sentence_kind = list(compress(base.sentence_kind, sent_keep))
            self.sentence_section = list(compress(base.sentence_section, sent_keep))
            if chunk_keep.any():  # (an empty store's arrays may have no width yet)
                chunk_vecs.append(base.chunk_vectors[chunk_keep])
                sent_vecs.append(base.sentence_vectors[sent_keep])
                means.append(base.chunk_means[chunk_keep])
            self._files = {p: base._files[p] for p in kept if p in base._files}
        else:
            starts, counts = [], []
            self.chunks, self.sentence_doc, self.sentence_spans = [], [], []
            self.sentence_kind, self.sentence_section = [], []
        first_new_chunk = len(self.chunks)
        new_starts, new_counts = [], []
        for key in keys[len(kept):]:
            entry = self.entries[key]
            base_row = len(self.sentence_spans)
            local = {(s.start, s.end): i for i, s in enumerate(entry.sentences)}
            for chunk in entry.chunks:
                new_starts.append(base_row + local[(chunk.sentences[0].start,
                                                    chunk.sentences[0].end)])
                new_counts.append(len(chunk.sentences))
                self.chunks.append(chunk)
            self.sentence_spans.extend(entry.sentences)
            self.sentence_doc.extend([key] * len(entry.sentences))
            self.sentence_kind.extend(structure.kinds(entry.doc.blocks, entry.sentences))
            self.sentence_section.extend(structure.sections(entry.doc.blocks, entry.sentences))
            chunk_vecs.append(entry.chunk_vectors)
            # Sentence vectors in float16: the largest array (several sentences a
            # chunk) at half the memory and disk; cosines move by under 1e-3.
            sent_vecs.append(entry.sentence_vectors.astype(np.float16))
        starts.append(np.array(new_starts, np.int64))
        counts.append(np.array(new_counts, np.int64))
        self.chunk_sentence_rows = Rows(np.concatenate(starts), np.concatenate(counts))
        empty = np.zeros((0, self.dimension), dtype=np.float32)
        self.chunk_vectors = np.vstack(chunk_vecs).astype(np.float32, copy=False) \
            if chunk_vecs else empty
        self.sentence_vectors = np.vstack(sent_vecs).astype(np.float16, copy=False) \
            if sent_vecs else empty.astype(np.float16)
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
        fresh = np.zeros((len(self.chunks) - first_new_chunk, self.dimension), dtype=np.float32)
        for i, (start, count) in enumerate(zip(new_starts, new_counts)):
            fresh[i] = self.sentence_vectors[start:start + count].sum(axis=0, dtype=np.float32)
        fresh /= np.maximum(np.linalg.norm(fresh, axis=1, keepdims=True), 1e-12)
        self.chunk_means = np.vstack(means + [fresh]) if means else fresh

    def document(self, key: str) -> Document:
        return self.entries[key].doc

    def passage(self, key: str, start: int, end: int) -> str:
        """The stored text of document `key` at [start, end)."""
        return self.entries[key].doc.text[start:end]

    def files(self) -> dict[str, dict[str, Any]]:
        """Per indexed file: display name, sha256, chunk count, the file on
        disk it was read from (itself, or the mail an attachment came in), its
        title, and its sentences by kind (body, heading, caption, ...)."""
        if len(self._files) != len(self.entries):  # once per file: questions read it
            self._files = {
                path: self._files.get(path) or {
                    "source": e.doc.source, "sha256": e.doc.sha256, "chunks": len(e.chunks),
                    "container": e.doc.file, "title": naming.title(e.doc),
                    "sentences": structure.counts(e.doc.blocks, e.sentences)}
                for path, e in self.entries.items()
            }
        return {path: dict(info) for path, info in self._files.items()}


class Rows(Sequence[range]):
    """Each chunk's sentence rows, a range each (held as two arrays)."""

    def __init__(self, starts: np.ndarray, counts: np.ndarray) -> None:
        self.starts, self.counts = starts, counts

    def __getitem__(self, row: int) -> range:  # type: ignore[override]
        start = int(self.starts[row])
        return range(start, start + int(self.counts[row]))

    def __len__(self) -> int:
        return len(self.starts)


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
