"""Documents with their sentences, chunks and vectors, as flat rows in memory.

`Records` is what retrieval and answering read: chunk rows and sentence rows,
with the sentence rows of each document contiguous and in order (so row - 1
is the sentence before, within one key). The FAISS store is a `Records` over
the whole index; the Milvus store builds a small one per question, holding
only what its hits need.
"""

from __future__ import annotations

import threading
import weakref
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
        chunk_vecs, sent_vecs = [], []
        if base is not None and not (set(base.entries) & dropped) and base.entries:
            self._appended(base, keys[len(kept):])
            return
        if base is not None and keys == kept and list(base.entries)[:len(kept)] == kept:
            self._truncated(base)  # the last files dropped (often the ones just added)
            return
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
                # views of the kept runs: one copy, into the new arrays (_filled)
                chunk_vecs += [base.chunk_vectors[a:b] for a, b in _runs(chunk_keep)]
                sent_vecs += [base.sentence_vectors[a:b] for a, b in _runs(sent_keep)]
            self._files = {p: base._files[p] for p in kept if p in base._files}
        else:
            starts, counts = [], []
            self.chunks, self.sentence_doc, self.sentence_spans = [], [], []
            self.sentence_kind, self.sentence_section = [], []
        new_starts, new_counts = self._add_rows(keys[len(kept):], chunk_vecs, sent_vecs)
        starts.append(np.array(new_starts, np.int64))
        counts.append(np.array(new_counts, np.int64))
        self.chunk_sentence_rows = Rows(np.concatenate(starts), np.concatenate(counts))
        # With a little room after the rows, so that adding a small file next
        # writes into these arrays instead of copying them (_grown).
        self.chunk_vectors = _filled(chunk_vecs, np.float32, self.dimension)
        self.sentence_vectors = _filled(sent_vecs, np.float16, self.dimension)
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
        self.chunk_means = ChunkMeans(self)

    def _appended(self, base: Records, added: list[str]) -> None:
        """The flat views of `base` with the entries `added` after it: the
        vectors are written into the room `base`'s arrays have beyond their
        rows (shared, so an add copies only what it adds), or into new ones
        with room to grow when there is none, or another snapshot took it."""
        self._files = dict(base._files)
        self.chunks, self.sentence_doc = list(base.chunks), list(base.sentence_doc)
        self.sentence_spans = list(base.sentence_spans)
        self.sentence_kind, self.sentence_section = list(base.sentence_kind), \
            list(base.sentence_section)
        chunk_vecs: list[np.ndarray] = []
        sent_vecs: list[np.ndarray] = []
        starts, counts = self._add_rows(added, chunk_vecs, sent_vecs)
        self.chunk_sentence_rows = Rows(
            np.concatenate([base.chunk_sentence_rows.starts, np.array(starts, np.int64)]),
            np.concatenate([base.chunk_sentence_rows.counts, np.array(counts, np.int64)]))
        new_sentences = np.vstack(sent_vecs) if sent_vecs else base.sentence_vectors[:0]
        self.sentence_vectors = _grown(base.sentence_vectors, new_sentences)
        self.chunk_vectors = _grown(base.chunk_vectors, np.vstack(chunk_vecs)
                                    if chunk_vecs else base.chunk_vectors[:0])
        self.chunk_means = ChunkMeans(self)
        chunk_at, sentence_at = len(base.chunks), len(base.sentence_spans)
        for key in added:  # the new entries' vectors become views too
            entry = self.entries[key]
            entry.chunk_vectors = self.chunk_vectors[chunk_at:chunk_at + len(entry.chunks)]
            entry.sentence_vectors = self.sentence_vectors[
                sentence_at:sentence_at + len(entry.sentences)]
            chunk_at += len(entry.chunks)
            sentence_at += len(entry.sentences)

    def _add_rows(self, keys: list[str], chunk_vecs: list[np.ndarray],
                  sent_vecs: list[np.ndarray]) -> tuple[list[int], list[int]]:
        """Append the entries `keys` to the flat lists, and their vectors to
        `chunk_vecs` and `sent_vecs`; their chunks' first sentence rows and
        sentence counts."""
        starts, counts = [], []
        for key in keys:
            entry = self.entries[key]
            first = len(self.sentence_spans)
            local = {(s.start, s.end): i for i, s in enumerate(entry.sentences)}
            for chunk in entry.chunks:
                starts.append(first + local[(chunk.sentences[0].start, chunk.sentences[0].end)])
                counts.append(len(chunk.sentences))
                self.chunks.append(chunk)
            self.sentence_spans.extend(entry.sentences)
            self.sentence_doc.extend([key] * len(entry.sentences))
            self.sentence_kind.extend(structure.kinds(entry.doc.blocks, entry.sentences))
            self.sentence_section.extend(structure.sections(entry.doc.blocks, entry.sentences))
            chunk_vecs.append(entry.chunk_vectors.astype(np.float32, copy=False))
            # Sentence vectors in float16: the largest array (several sentences a
            # chunk) at half the memory and disk; cosines move by under 1e-3.
            sent_vecs.append(entry.sentence_vectors.astype(np.float16, copy=False))
        return starts, counts

    def _truncated(self, base: Records) -> None:
        """The flat views of `base`'s first entries (this snapshot's): the
        first rows of its arrays, shared, nothing copied."""
        chunks = sum(len(e.chunks) for e in self.entries.values())
        sentences = sum(len(e.sentences) for e in self.entries.values())
        self._files = {p: base._files[p] for p in self.entries if p in base._files}
        self.chunks, self.sentence_doc = base.chunks[:chunks], base.sentence_doc[:sentences]
        self.sentence_spans = base.sentence_spans[:sentences]
        self.sentence_kind = base.sentence_kind[:sentences]
        self.sentence_section = base.sentence_section[:sentences]
        self.chunk_sentence_rows = Rows(base.chunk_sentence_rows.starts[:chunks],
                                        base.chunk_sentence_rows.counts[:chunks])
        self.chunk_vectors = base.chunk_vectors[:chunks]
        self.sentence_vectors = base.sentence_vectors[:sentences]
        self.chunk_means = ChunkMeans(self)

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

    def file_index(self) -> dict[str, dict[str, Any]]:
        """`files()` itself, not a copy: the same object for the snapshot's
        life, so what is worked out from it (naming's name terms) is cached
        per snapshot. Read it, never change it."""
        self.files()
        return self._files


GROWTH = 0.25  # room a copied array gets to grow into, as a share of its rows
ROOM = 2_048  # rows of room a snapshot's arrays get when built whole (a few small files)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The [start, stop) runs of True in `mask`."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _filled(parts: list[np.ndarray], dtype: Any, width: int) -> np.ndarray:
    """`parts` stacked into a new buffer with ROOM rows to spare (see _grown)."""
    n = sum(len(p) for p in parts)
    width = parts[0].shape[1] if parts else width
    buffer = np.empty((n + ROOM, width), dtype=dtype)
    if parts:
        np.concatenate(parts, axis=0, out=buffer[:n], casting="same_kind")
    _claim(buffer, n)
    return buffer[:n]


def _claim(buffer: np.ndarray, rows: int) -> None:
    _taken[id(buffer)] = rows
    weakref.finalize(buffer, _taken.pop, id(buffer), None)
_taken: dict[int, int] = {}  # a shared array's buffer -> rows written into it (see _grown)
_taken_lock = threading.Lock()


def _grown(rows: np.ndarray, more: np.ndarray) -> np.ndarray:
    """`rows` with `more` after them. When `rows` is the first part of a buffer
    with room after it that no other snapshot has written to, `more` goes
    there and the result is a longer view of the same buffer (`rows` itself,
    another snapshot's view, is unchanged); else a new buffer with GROWTH room."""
    n, m = len(rows), len(more)
    buffer = rows.base if isinstance(rows.base, np.ndarray) and rows.base.ndim == rows.ndim \
        and rows.base.dtype == rows.dtype and rows.base.shape[1:] == rows.shape[1:] \
        and rows.base.flags.c_contiguous and rows.flags.c_contiguous \
        and rows.__array_interface__["data"][0] == rows.base.__array_interface__["data"][0] \
        else None
    with _taken_lock:
        if buffer is not None and _taken.get(id(buffer)) == n and n + m <= len(buffer):
            buffer[n:n + m] = more
            _taken[id(buffer)] = n + m
            return buffer[:n + m]
        width = rows.shape[1:] if n else more.shape[1:]
        buffer = np.empty((int((n + m) * (1 + GROWTH)) + 64, *width), dtype=more.dtype)
        buffer[:n] = rows
        buffer[n:n + m] = more
        _claim(buffer, n + m)
        return buffer[:n + m]


class ChunkMeans:
    """Each chunk's unit mean of its sentences' vectors (an answer-scoring
    feature), worked out for the rows asked, not held for every chunk."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def __getitem__(self, row: int) -> np.ndarray:
        rows = self.records.chunk_sentence_rows[row]
        mean = self.records.sentence_vectors[rows.start:rows.stop].sum(axis=0, dtype=np.float32)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)


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
