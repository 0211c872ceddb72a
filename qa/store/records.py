"""Documents with their sentences, chunks and vectors, as flat rows in memory.

`Records` is what retrieval and answering read: chunk rows and sentence rows,
with the sentence rows of each document contiguous and in order (so row - 1
is the sentence before, within one key). The FAISS store is a `Records` over
the whole index; the Milvus store builds a small one per question, holding
only what its hits need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
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
    chunks: Sequence[Chunk]  # a list, or EntryChunks for a saved document
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


class Records:
    """Entries by key (a document path), with flat views for search and answers.

    Views: `chunks` (made when read), `chunk_key` (each chunk row's entry
    key), `chunk_vectors`, `chunk_sentence_rows` (each chunk's sentence
    rows), `chunk_means` (unit mean of those sentences' vectors),
    `sentence_spans`, `sentence_vectors`, `sentence_doc` (each sentence
    row's entry key), `sentence_kind` and `sentence_section` (its block kind
    and section path, documents/structure.py).

    The vector views read the entries' own arrays in place (`Stacked`): for
    a saved index those are the segments' files, memory-mapped, so a
    snapshot holds no copy of the corpus's vectors and the operating system
    pages them in as searches read them.
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
        it adds, plus copying lists of row references."""
        kept = [p for p in base.entries if p not in dropped] if base is not None else []
        keys = list(self.entries)
        if base is None or keys[:len(kept)] != kept:
            base, kept = None, []
        self._files: dict[str, dict[str, Any]] = {}
        if base is not None and keys == kept and list(base.entries)[:len(kept)] == kept:
            self._truncated(base)  # the last files dropped (often the ones just added)
            return
        if base is not None and base.entries:
            paths = list(base.entries)
            live = np.array([p not in dropped for p in paths], bool)
            chunk_keep = np.repeat(live, [len(base.entries[p].chunks) for p in paths])
            sent_keep = np.repeat(live, [len(base.entries[p].sentences) for p in paths])
            shift = np.concatenate([[0], np.cumsum(~sent_keep)])
            starts = base.chunk_sentence_rows.starts[chunk_keep]
            starts = [starts - shift[starts]]
            counts = [base.chunk_sentence_rows.counts[chunk_keep]]
            locals_ = [base.chunk_local[chunk_keep]]
            self.chunk_key = list(compress(base.chunk_key, chunk_keep))
            self.sentence_doc = list(compress(base.sentence_doc, sent_keep))
            self.sentence_spans = list(compress(base.sentence_spans, sent_keep))
            self.sentence_kind = list(compress(base.sentence_kind, sent_keep))
            self.sentence_section = list(compress(base.sentence_section, sent_keep))
            self._files = {p: base._files[p] for p in kept if p in base._files}
        else:
            starts, counts, locals_ = [], [], []
            self.chunk_key, self.sentence_doc, self.sentence_spans = [], [], []
            self.sentence_kind, self.sentence_section = [], []
        added = keys[len(kept):]
        new_starts, new_counts, new_locals = self._add_rows(added)
        self.chunk_sentence_rows = Rows(np.concatenate(starts + [new_starts]),
                                        np.concatenate(counts + [new_counts]))
        self.chunk_local = np.concatenate(locals_ + [new_locals])
        if base is not None and not (set(base.entries) & dropped):  # only added
            self.chunk_vectors = base.chunk_vectors.then(
                [self.entries[k].chunk_vectors for k in added])
            self.sentence_vectors = base.sentence_vectors.then(
                [self.entries[k].sentence_vectors for k in added])
        else:
            self.restack()
        self.chunks = ChunkRows(self)
        self.chunk_means = ChunkMeans(self)

    def restack(self) -> None:
        """The vector views, read afresh from the entries' arrays (after a
        save points them at the files it wrote)."""
        entries = self.entries.values()
        self.chunk_vectors = Stacked([e.chunk_vectors for e in entries], self.dimension,
                                     np.float32)
        # Sentence vectors in float16: the largest array (several sentences a
        # chunk) at half the memory and disk; cosines move by under 1e-3.
        self.sentence_vectors = Stacked([e.sentence_vectors for e in entries], self.dimension,
                                        np.float16)

    def _add_rows(self, keys: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Append the entries `keys` to the flat lists; their chunks' first
        sentence rows, sentence counts and rows within their entry."""
        starts, counts, locals_ = [], [], []
        for key in keys:
            entry = self.entries[key]
            first = len(self.sentence_spans)
            table = chunk_table(entry)
            starts.append(first + table[:, 0])
            counts.append(table[:, 1])
            locals_.append(np.arange(len(table), dtype=np.int32))
            self.chunk_key.extend([key] * len(table))
            self.sentence_spans.extend(entry.sentences)
            self.sentence_doc.extend([key] * len(entry.sentences))
            self.sentence_kind.extend(structure.kinds(entry.doc.blocks, entry.sentences))
            self.sentence_section.extend(structure.sections(entry.doc.blocks, entry.sentences))
        return (np.concatenate(starts) if starts else np.zeros(0, np.int64),
                np.concatenate(counts) if counts else np.zeros(0, np.int64),
                np.concatenate(locals_) if locals_ else np.zeros(0, np.int32))

    def _truncated(self, base: Records) -> None:
        """The flat views of `base`'s first entries (this snapshot's): the
        first rows of its views."""
        chunks = sum(len(e.chunks) for e in self.entries.values())
        sentences = sum(len(e.sentences) for e in self.entries.values())
        self._files = {p: base._files[p] for p in self.entries if p in base._files}
        self.chunk_key, self.sentence_doc = base.chunk_key[:chunks], base.sentence_doc[:sentences]
        self.chunk_local = base.chunk_local[:chunks]
        self.sentence_spans = base.sentence_spans[:sentences]
        self.sentence_kind = base.sentence_kind[:sentences]
        self.sentence_section = base.sentence_section[:sentences]
        self.chunk_sentence_rows = Rows(base.chunk_sentence_rows.starts[:chunks],
                                        base.chunk_sentence_rows.counts[:chunks])
        self.chunk_vectors = base.chunk_vectors.first(chunks)
        self.sentence_vectors = base.sentence_vectors.first(sentences)
        self.chunks = ChunkRows(self)
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


def chunk_table(entry: Entry) -> np.ndarray:
    """Per chunk of `entry`: the row of its first sentence among the entry's
    sentences, and how many it holds (an (n, 2) array)."""
    if isinstance(entry.chunks, EntryChunks):
        return entry.chunks.table
    local = {(s.start, s.end): i for i, s in enumerate(entry.sentences)}
    return np.array([(local[(c.sentences[0].start, c.sentences[0].end)], len(c.sentences))
                     for c in entry.chunks], np.int64).reshape(-1, 2)


class EntryChunks(Sequence[Chunk]):
    """A saved document's chunks, held as runs of its sentences: each Chunk
    (its text a slice of the document's) is made when read, so a loaded index
    holds no chunk text beside the documents'."""

    def __init__(self, doc: Document, sentences: list[Span], table: np.ndarray) -> None:
        self.doc, self.sentences, self.table = doc, sentences, table

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int) -> Chunk:  # type: ignore[override]
        first, count = (int(v) for v in self.table[i])
        sentences = self.sentences[first:first + count]
        start, end = sentences[0].start, sentences[-1].end
        return Chunk(source=self.doc.source, path=self.doc.path, start=start, end=end,
                     text=self.doc.text[start:end], sentences=sentences,
                     page=self.doc.page_at(start))


class ChunkRows(Sequence[Chunk]):
    """A snapshot's chunks by row, each read from its entry when asked for."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records.chunk_key)

    def __getitem__(self, row: int) -> Chunk:  # type: ignore[override]
        key = self.records.chunk_key[row]
        return self.records.entries[key].chunks[int(self.records.chunk_local[row])]


class Stacked:
    """The rows of several arrays read as one (n, width) array, in place:
    the entries' vectors (views of the segments' memory-mapped files, or
    arrays in memory for files just indexed). Views that lie next to each
    other in one buffer are joined, so a saved segment is one part however
    many files it holds. Indexing by a slice, a row or an array of rows gives
    a NumPy array; `scores` is the product with queries."""

    def __init__(self, arrays: Iterable[np.ndarray], width: int, dtype: Any,
                 _parts: list[np.ndarray] | None = None) -> None:
        self.dtype = np.dtype(dtype)
        self.parts = _joined(arrays, list(_parts or []))
        width = self.parts[0].shape[1] if self.parts else width
        self.ends = np.cumsum([len(p) for p in self.parts], dtype=np.int64)
        self.shape = (int(self.ends[-1]) if self.parts else 0, int(width))
        self.ndim = 2

    def then(self, arrays: Iterable[np.ndarray]) -> Stacked:
        """These rows, then `arrays`' (nothing copied)."""
        return Stacked(arrays, self.shape[1], self.dtype, self.parts)

    def first(self, n: int) -> Stacked:
        """The first `n` rows (nothing copied)."""
        return self.between(0, n)

    def between(self, start: int, stop: int) -> Stacked:
        """Rows [start, stop) (nothing copied)."""
        parts, at = [], 0
        for part in self.parts:
            a, b = max(start - at, 0), min(stop - at, len(part))
            if a < b:
                parts.append(part[a:b])
            at += len(part)
        return Stacked([], self.shape[1], self.dtype, parts)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self[0:len(self)].astype(dtype or self.dtype, copy=False)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                return self[np.arange(start, stop, step)]
            if stop <= start:
                return np.zeros((0, self.shape[1]), self.dtype)
            part = int(np.searchsorted(self.ends, start, side="right"))
            begin = int(self.ends[part]) - len(self.parts[part])
            if stop <= self.ends[part]:
                return np.asarray(self.parts[part][start - begin:stop - begin], self.dtype)
            return self[np.arange(start, stop)]
        if isinstance(key, (int, np.integer)):
            row = int(key) + len(self) if key < 0 else int(key)
            if not 0 <= row < len(self):
                raise IndexError(f"row {key} out of {len(self)}")
            part = int(np.searchsorted(self.ends, row, side="right"))
            return np.asarray(self.parts[part][row - int(self.ends[part]) + len(self.parts[part])],
                              self.dtype)
        rows = np.asarray(key, np.int64).reshape(-1)
        out = np.empty((len(rows), self.shape[1]), self.dtype)
        if not len(rows):
            return out
        rows = np.where(rows < 0, rows + len(self), rows)
        if rows.min() < 0 or rows.max() >= len(self):
            raise IndexError(f"rows out of {len(self)}")
        which = np.searchsorted(self.ends, rows, side="right")
        for part in np.unique(which).tolist():
            mask = which == part
            begin = int(self.ends[part]) - len(self.parts[part])
            out[mask] = self.parts[part][rows[mask] - begin]
        return out

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """queries @ rows.T, part by part (float32)."""
        queries = np.asarray(queries, np.float32)
        if not self.parts:
            return np.zeros((len(queries), 0), np.float32)
        return np.hstack([queries @ np.asarray(part, np.float32).T for part in self.parts])


_reading = threading.Lock()


def load_array(path: Any, mapped: bool = True) -> Any:
    """np.load of a saved array (memory-mapped, unless `mapped` is False), one
    thread at a time: NumPy parses the header with `ast.literal_eval`, which
    CPython 3.11 does not make safe across threads ("AST constructor recursion
    depth mismatch", python/cpython#106905), and a writer and a reader load
    at once."""
    with _reading:
        if mapped:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                return {name: loaded[name] for name in loaded.files}
        return loaded


def _joined(arrays: Iterable[np.ndarray], parts: list[np.ndarray]) -> list[np.ndarray]:
    """`parts` then `arrays`, each view that continues the part before it in
    the same buffer joined to it (one view of the buffer's rows)."""
    for array in arrays:
        if not len(array):
            continue
        if parts:
            joined = _continued(parts[-1], array)
            if joined is not None:
                parts[-1] = joined
                continue
        parts.append(array)
    return parts


def _root(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _continued(before: np.ndarray, after: np.ndarray) -> np.ndarray | None:
    """One view of `before`'s rows and then `after`'s, when `after` starts
    where `before` ends in the same C-contiguous buffer; else None."""
    root = _root(before)
    if root is not _root(after) or before.dtype != after.dtype or root.ndim != 2 \
            or before.shape[1:] != after.shape[1:] or root.shape[1:] != before.shape[1:] \
            or not (root.flags.c_contiguous and before.flags.c_contiguous
                    and after.flags.c_contiguous):
        return None
    row_bytes = root.strides[0]
    head = before.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if before.__array_interface__["data"][0] + len(before) * row_bytes != \
            after.__array_interface__["data"][0] or head % row_bytes:
        return None
    first = head // row_bytes
    return root[first:first + len(before) + len(after)]


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
