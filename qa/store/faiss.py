"""The FAISS store: FAISS vectors, chunk and document records, BM25 postings,
in segments named by a manifest.

The only module that reads or writes index files. Layout of an index folder:

    manifest.json          written last; names the live segments, and in each
                           the files removed since it was written (tombstones)
    seg-<time>/            one commit's added files:
        vectors.npy        chunk vectors (unit length; inner product = cosine)
        sentences.npy      one unit vector per sentence, in document order
        documents.jsonl    path, name, sha256, text, page starts, sentence spans
        chunks.jsonl       document index, offsets, page, text, sentence range
        postings-*.npy     BM25 term postings of the chunks (hybrid.Postings;
                           one postings.npz in segments written before)
        graph.faiss        the segment's HNSW graph, once the index is large
                           enough for graphs (`wants_graph`)

A commit writes only what it adds, as a new segment, and records what it
removes as tombstones in the manifest, which it then swaps in with an atomic
rename: a crash at any point leaves the previous index loadable, and the
cost of adding one file follows the file, not the index. When segments pile
up (more than MAX_SEGMENTS) or one is mostly removed files, the commit merges
them into one (`qa index --optimize` merges all). A segment the previous
manifest named is kept until the next commit, so a reader that read that
manifest just before the swap still finds its files; a reader that loses
that race anyway re-reads the manifest and retries. An index in the format
before segments (one data-<time> folder) is read and rewritten once. No pickle.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..chunking import Span
from ..documents import Document
from ..documents.structure import Block
from ..errors import IndexMismatchError, IndexNotFoundError, QAError
from .records import Entry, EntryChunks, Found, Records, Stacked, chunk_table, load_array

FORMAT_VERSION = 2  # 1: one data folder, rewritten whole by every commit
MANIFEST = "manifest.json"
MAX_SEGMENTS = 12  # more small ones, and a commit merges the smallest (a tiered merge)
# Chunks that make a segment large: past hnsw_threshold it gets an HNSW graph of
# its own, and commits no longer merge it (only `optimize` does), so that adding
# a file never waits for a large segment to be rewritten and its graph rebuilt.
LARGE = 4_096
GRAPH = "graph.faiss"
# What may sit in a folder before an index is written into it.
_HARMLESS = {".lock", ".gitkeep", "README.md", ".DS_Store", ".manifest.json.tmp"}
_INDEX_PARTS = ("data-", ".data-", "seg-", ".seg-", "hnsw-", ".hnsw-")
logger = logging.getLogger(__name__)


@dataclass
class Segment:
    """One commit's files, as saved (`name`) or still in memory (""): its
    documents' paths and chunk counts in order, their BM25 postings, and the
    paths removed since (tombstones)."""

    name: str
    paths: list[str]
    counts: list[int]
    postings: Any  # hybrid.Postings
    removed: frozenset[str] = frozenset()
    graph: Any = None  # its HNSW graph over all its chunk rows, when it has one

    def with_removed(self, removed: frozenset[str]) -> Segment:
        return Segment(self.name, self.paths, self.counts, self.postings, removed, self.graph)

    def live(self) -> list[str]:
        return [p for p in self.paths if p not in self.removed]

    def size(self) -> int:
        return sum(c for p, c in zip(self.paths, self.counts) if p not in self.removed)

    def dead_share(self) -> float:
        total = sum(self.counts)
        return 1 - self.size() / total if total else 0.0

    def kept_rows(self) -> np.ndarray:
        """Per chunk row: whether its file is still live."""
        return np.repeat(np.array([p not in self.removed for p in self.paths], bool),
                         np.array(self.counts, np.int64))


def new_segment(entries: Sequence[Entry]) -> Segment:
    """An unsaved segment holding these entries."""
    from .hybrid import Postings, chunk_terms

    return Segment("", [e.doc.path for e in entries], [len(e.chunks) for e in entries],
                   Postings.of([t for e in entries for t in chunk_terms(e)]))


def merge_segments(segments: Sequence[Segment]) -> Segment:
    """One unsaved segment with the live files of `segments`, in order."""
    from .hybrid import Postings

    paths, counts = [], []
    for segment in segments:
        for path, count in zip(segment.paths, segment.counts):
            if path not in segment.removed:
                paths.append(path)
                counts.append(count)
    return Segment("", paths, counts,
                   Postings.merged([(s.postings, s.kept_rows()) for s in segments]))


def tiered(segments: list[Segment], everything: bool = False) -> list[Segment]:
    """The segments after the merge a commit does: none while there are at
    most MAX_SEGMENTS small ones (under LARGE chunks) and none is mostly
    removed files; else the smallest half of the small ones and the
    mostly-removed ones become one. `everything`: all become one."""
    if everything:
        return [merge_segments(segments)] if len(segments) > 1 or any(
            s.removed for s in segments) else segments
    worn = [s for s in segments if s.dead_share() > 0.5]
    few = [s for s in segments if sum(s.counts) < LARGE]
    if len(few) <= MAX_SEGMENTS and not worn:
        return segments
    small = sorted(few, key=Segment.size)[:len(few) // 2] if len(few) > MAX_SEGMENTS else []
    chosen = [s for s in segments if any(s is c for c in small + worn)]
    if len(chosen) == 1 and not chosen[0].removed:
        return segments
    kept = [s for s in segments if not any(s is c for c in chosen)]
    return kept + [merge_segments(chosen)]


@dataclass
class IndexOptions:
    """How the FAISS index is built (from Settings)."""

    index_type: str = "auto"
    hnsw_threshold: int = 100_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 256  # the same default as Settings


class Dense:
    """Dense search over a store's segments, best inner products first: a
    segment with an HNSW graph is searched by it (the rows of its removed
    files skipped), each run of the others exactly, in place over the
    store's own vectors (no copy of them)."""

    def __init__(self, store: Store) -> None:
        # (graph or None, store rows of the graph's rows (-1: removed), first row, live rows)
        self.parts: list[tuple[Any, Any, int, int]] = []
        base = 0
        for segment in store.segments or []:
            kept = segment.kept_rows()
            live = int(kept.sum())
            if segment.graph is not None:
                rows = np.full(len(kept), -1, np.int64)
                rows[kept] = np.arange(base, base + live)
                self.parts.append((segment.graph, rows, base, live))
            elif self.parts and self.parts[-1][0] is None:  # runs searched exactly join
                _, _, first, n = self.parts[-1]
                self.parts[-1] = (None, None, first, n + live)
            else:
                self.parts.append((None, None, base, live))
            base += live
        self.ntotal = base
        self.d = int(store.chunk_vectors.shape[1])
        # each run searched exactly, as views of the store's vectors (once a snapshot)
        self.runs = {first: store.chunk_vectors.between(first, first + live)
                     for graph, _, first, live in self.parts if graph is None}

    def graphs(self) -> list[Any]:
        return [graph for graph, _, _, _ in self.parts if graph is not None]

    def search(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the `n` best rows for each query, best first
        (row -1 where fewer were found)."""
        queries = np.asarray(queries, np.float32)
        found_scores, found_rows = [], []
        for graph, rows, first, live in self.parts:
            if not live:
                continue
            if graph is None:
                scores = self.runs[first].scores(queries)
                k = min(n, live)
                top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
                found_scores.append(np.take_along_axis(scores, top, axis=1))
                found_rows.append(top + first)
            else:
                k = min(n + len(rows) - live, graph.ntotal)
                scores, local = graph.search(queries, k)
                mapped = np.where(local >= 0, rows[np.maximum(local, 0)], -1)
                found_scores.append(np.where(mapped >= 0, scores, -np.inf).astype(np.float32))
                found_rows.append(mapped)
        if not found_scores:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        scores, rows = np.hstack(found_scores), np.hstack(found_rows)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :n]
        scores = np.take_along_axis(scores, order, axis=1)
        rows = np.take_along_axis(rows, order, axis=1)
        rows[~np.isfinite(scores)] = -1
        return scores, rows


def wants_graph(segment_chunks: int, total: int, options: IndexOptions) -> bool:
    """Whether a segment of `segment_chunks` in an index of `total` chunks is
    searched by an HNSW graph of its own: never with index_type "flat",
    always with "hnsw", and with "auto" once the index holds more than
    hnsw_threshold chunks, for the large segments (LARGE)."""
    if options.index_type == "auto":
        return total > options.hnsw_threshold and segment_chunks >= LARGE
    return options.index_type == "hnsw" and segment_chunks > 0


def _kind(n: int, options: IndexOptions) -> str:
    if options.index_type == "auto":
        return "hnsw" if n > options.hnsw_threshold else "flat"
    return options.index_type


def build_faiss(vectors: np.ndarray, options: IndexOptions):  # type: ignore[no-untyped-def]
    """Exact search for small collections, HNSW for large ones."""
    import faiss

    vectors = np.asarray(vectors, np.float32)
    n, dim = vectors.shape if vectors.size else (0, vectors.shape[1])
    kind = _kind(n, options)
    index: Any
    if kind == "hnsw":
        # 8-bit scalar-quantised storage: a quarter of the memory of float32
        # (1M x 384: ~0.4 GB instead of 1.5 GB) at recall@10 above 0.95.
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit,  # type: ignore[arg-type]
                                  options.hnsw_m,
                                  faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = options.hnsw_ef_construction
        index.hnsw.efSearch = options.hnsw_ef_search
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not index.is_trained:
            index.train(vectors[:min(n, 100_000)])
        index.add(vectors)
    return index


@dataclass
class Store(Records):
    """All indexed documents, with flat views for search.

    Treat a Store as read-only once built: updates make a new Store, so
    concurrent readers keep a consistent snapshot.
    """

    directory: Path
    shape: dict[str, Any]
    dimension: int
    options: IndexOptions = field(default_factory=IndexOptions)
    entries: dict[str, Entry] = field(default_factory=dict)
    generation: str = ""  # the manifest this store was loaded from or saved as
    demo: bool = False  # holds only the bundled demo, which the user's first files replace
    segments: list[Segment] | None = None  # None: one new segment of all entries
    base: Any = field(default=None, repr=False)  # the snapshot this one changes (flat views)
    dropped: frozenset[str] = frozenset()  # what it drops from `base`
    shared = False  # one machine's folder (a class attribute, not a field)

    def __post_init__(self) -> None:
        if self.segments is None:
            self.segments = [new_segment(list(self.entries.values()))] if self.entries else []
        # Entries in segment order, so each segment's live rows are contiguous.
        self.entries = {p: self.entries[p] for s in self.segments for p in s.live()}
        self._flatten(self.base, self.dropped)
        self.base = None  # (an old snapshot is not kept alive by its successor)
        self.index = Dense(self)
        self._lexical: Any = None

    def postings(self) -> list[tuple[Any, np.ndarray]]:
        """Each segment's BM25 postings with its rows' chunk rows in this
        store (-1 for a removed file's)."""
        out, base = [], 0
        for segment in self.segments or []:
            kept = segment.kept_rows()
            rows = np.full(len(kept), -1, np.int64)
            rows[kept] = np.arange(base, base + int(kept.sum()))
            base += int(kept.sum())
            out.append((segment.postings, rows))
        return out

    @property
    def location(self) -> str:
        return f"{self.directory}/"

    def dense(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top `n` chunk rows by inner product: (rows, scores)."""
        n = min(n, self.index.ntotal)
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, rows = self.index.search(vector.reshape(1, -1).astype(np.float32), n)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def search(self, queries: Sequence[tuple[np.ndarray, list[str]]], k: int,
               candidates: int, rrf_k: int, prefer: set[str] | None = None,
               only: set[str] | None = None) -> Found:
        """Hybrid search (FAISS + BM25 in memory, fused by RRF) for each query."""
        from .hybrid import Lexical, hybrid_search

        if self._lexical is None:  # built once per snapshot; a race builds it twice, harmlessly
            self._lexical = Lexical(self)
        lexical = self._lexical
        hits = [hybrid_search(self, lexical, vector, query_terms, k, candidates, rrf_k,
                              prefer, only) for vector, query_terms in queries]
        return Found(self, hits, lexical.idf)

    def containing(self, snippet: str) -> set[str]:
        """Paths of the documents whose text holds `snippet`."""
        return {path for path, e in self.entries.items() if snippet in e.doc.text}

    def known_documents(self) -> list[Document]:
        return [e.doc for e in self.entries.values()]

    def count(self) -> int:
        """Chunks held."""
        return len(self.chunks)

    def latest(self) -> Store:
        """This store, or the one another process saved since it was loaded."""
        if self.is_current():
            return self
        return Store.load(self.directory, self.shape, self.options)

    def lock(self) -> Any:
        """The writers' lock (a file lock in the index folder)."""
        from filelock import FileLock

        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / ".lock"), timeout=600)

    def commit(self, remove: Iterable[str] = (), add: Iterable[Entry] = (),
               demo: bool | None = None, optimize: bool = False) -> Store:
        """Save a new store without `remove` and with `add`; return it.
        `optimize`: merge every segment into one."""
        store = self.updated(remove, add, demo, optimize)
        store.save()
        return store

    # -- updates ----------------------------------------------------------
    def updated(self, remove: Iterable[str] = (), add: Iterable[Entry] = (),
                demo: bool | None = None, optimize: bool = False) -> Store:
        """A new Store without `remove` and with `add` (replacing same paths):
        the segments it had, with tombstones for what went, and one new
        segment for what came (merged as `tiered` says)."""
        added = {entry.doc.path: entry for entry in add}
        dropped = set(remove) | set(added)
        segments = []
        for segment in self.segments or []:
            gone = segment.removed | (dropped & set(segment.paths))
            if len(gone) < len(segment.paths):
                segments.append(segment.with_removed(frozenset(gone)))
        if added:
            segments.append(new_segment(list(added.values())))
        entries = {p: e for p, e in self.entries.items() if p not in dropped}
        entries.update(added)
        # The dimension comes from the vectors held, so any embedding model works.
        dimension = next((e.chunk_vectors.shape[1] for e in entries.values()), self.dimension)
        return Store(self.directory, self.shape, int(dimension), self.options, entries,
                     demo=self.demo if demo is None else demo,
                     segments=tiered(segments, optimize), base=self, dropped=frozenset(dropped))

    def empty(self) -> Store:
        """A Store in the same folder with nothing in it (for a rebuild).

        Raises:
            QAError: the folder holds other files and no index.
        """
        check_folder(self.directory)
        return Store(self.directory, self.shape, self.dimension, self.options, segments=[])

    # -- persistence ------------------------------------------------------
    def save(self) -> None:
        """Write each unsaved segment to its own folder, then atomically swap in
        a manifest naming the live segments and their tombstones."""
        self.directory.mkdir(parents=True, exist_ok=True)
        previous = _manifest(self.directory)
        segments = []
        for segment in self.segments or []:
            if not segment.name:
                segment = self._write_segment(segment)
            segments.append(segment)
        total = len(self.chunks)
        self.segments = [self._with_graph(s) if s.graph is None and wants_graph(
            s.size(), total, self.options) else s for s in segments]
        self.restack()
        self.index = Dense(self)
        self.generation = f"{time.time_ns()}"
        manifest = {
            "format_version": FORMAT_VERSION,
            **self.shape,
            "dimension": self.dimension,
            "generation": self.generation,
            "segments": [{"name": s.name, "removed": sorted(s.removed)} for s in segments],
            "hnsw": "",  # (one graph for the whole index, before segments had their own)
            "counts": {"documents": len(self.entries), "chunks": len(self.chunks),
                       "sentences": len(self.sentence_spans)},
            "demo": self.demo,
        }
        _write_atomic(self.directory / MANIFEST, json.dumps(manifest, indent=1))
        keep = _named(manifest) | _named(previous)  # readers may still read the previous
        for old in self.directory.iterdir():
            if old.name.startswith(("data-", "seg-", "hnsw-")) and old.name not in keep or \
                    old.name.startswith((".data-", ".seg-", ".hnsw-")):
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)

    def _with_graph(self, segment: Segment) -> Segment:
        """The saved `segment` with an HNSW graph over its chunk rows, built
        from its vectors file and saved beside it."""
        import faiss

        folder = self.directory / segment.name
        vectors = np.asarray(load_array(folder / "vectors.npy"), np.float32)
        graph = build_faiss(vectors, IndexOptions("hnsw", 0, self.options.hnsw_m,
                                                  self.options.hnsw_ef_construction,
                                                  self.options.hnsw_ef_search))
        tmp = folder / f".{GRAPH}.tmp"
        faiss.write_index(graph, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, folder / GRAPH)
        return Segment(segment.name, segment.paths, segment.counts, segment.postings,
                       segment.removed, graph)

    def _write_segment(self, segment: Segment) -> Segment:
        """Write an unsaved segment's files to a new folder; the saved segment."""
        if segment.removed:  # (a file added and removed before a save)
            segment = merge_segments([segment])
        name = f"seg-{time.time_ns()}"
        tmp = self.directory / f".{name}.tmp"
        tmp.mkdir()
        entries = [self.entries[p] for p in segment.paths]
        dim = self.dimension
        _write_rows(tmp / "vectors.npy", [e.chunk_vectors for e in entries], np.float32, dim)
        _write_rows(tmp / "sentences.npy", [e.sentence_vectors for e in entries], np.float16,
                    dim)
        with open(tmp / "documents.jsonl", "w", encoding="utf-8") as out:
            for entry in entries:
                out.write(json.dumps({
                    "path": entry.doc.path, "source": entry.doc.source,
                    "sha256": entry.doc.sha256, "page_starts": entry.doc.page_starts,
                    "container": entry.doc.container,
                    "sentences": [[s.start, s.end] for s in entry.sentences],
                    "blocks": [b.to_list() for b in entry.doc.blocks],
                    "text": entry.doc.text,
                }, ensure_ascii=False) + "\n")
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as out:
            for i, entry in enumerate(entries):
                for chunk in entry.chunks:
                    out.write(json.dumps({
                        "doc": i, "source": chunk.source,
                        "start": chunk.start, "end": chunk.end, "page": chunk.page,
                        "sentences": [[s.start, s.end] for s in chunk.sentences],
                        "text": chunk.text,
                    }, ensure_ascii=False) + "\n")
        segment.postings.save(tmp)
        _fsync_dir(tmp)
        os.replace(tmp, self.directory / name)
        # The entries now read their vectors from the files just written
        # (mapped: the process holds no copy), and make their chunks from
        # their documents' text when asked.
        vectors = load_array(self.directory / name / "vectors.npy")
        sentence_vectors = load_array(self.directory / name / "sentences.npy")
        chunk_at = sentence_at = 0
        for entry in entries:
            entry.chunks = EntryChunks(entry.doc, entry.sentences, chunk_table(entry))
            entry.chunk_vectors = vectors[chunk_at:chunk_at + len(entry.chunks)]
            entry.sentence_vectors = sentence_vectors[sentence_at:sentence_at + len(entry.sentences)]
            chunk_at += len(entry.chunks)
            sentence_at += len(entry.sentences)
        return Segment(name, segment.paths, segment.counts, segment.postings)

    @classmethod
    def load(cls, directory: str | os.PathLike[str], shape: dict[str, Any],
             options: IndexOptions | None = None) -> Store:
        """Open the index in `directory`, checking it matches `shape`. An
        index in the format before segments is rewritten in this one, once.

        Raises:
            IndexNotFoundError: no manifest in the folder.
            IndexMismatchError: other model/backend/format, or damaged files.
        """
        directory = Path(directory)
        while True:
            before = _manifest(directory).get("generation", _manifest(directory).get("data"))
            try:
                store = cls._load(directory, shape, options)
                break
            except IndexMismatchError:
                # Two saves swapped the manifest while we read the old data:
                # read the new one. Damage that stays put is reported.
                after = _manifest(directory)
                if after.get("generation", after.get("data")) == before:
                    raise
        if any(not segment.name for segment in store.segments or []):
            store._migrate()
        return store

    def _migrate(self) -> None:
        """Rewrite an index of format 1 as segments (under the writers' lock)."""
        try:
            with self.lock():
                if _manifest(self.directory).get("format_version") == 1:
                    self.save()
                    logger.warning("qa: the index in %s/ was rewritten in format %d (once; "
                                   "an older qa cannot read it)", self.directory,
                                   FORMAT_VERSION)
        except OSError as exc:  # a read-only folder: kept in memory, written on a change
            logger.warning("qa: the index in %s/ is in format 1 and cannot be rewritten "
                           "now (%s)", self.directory, exc)

    @classmethod
    def _load(cls, directory: Path, shape: dict[str, Any],
              options: IndexOptions | None = None) -> Store:
        fix = _Fix(directory)  # read only when a message needs it
        try:
            manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexNotFoundError(
                f"no index in {directory}/; build one with: qa index PATH... --index-dir {directory}"
            ) from None
        except (OSError, ValueError) as exc:
            raise IndexMismatchError(f"the manifest in {directory}/ is unreadable ({exc}); {fix}") from None
        if manifest.get("format_version") not in (1, FORMAT_VERSION):
            raise IndexMismatchError(
                f"index in {directory}/ has format {manifest.get('format_version')!r}, "
                f"expected {FORMAT_VERSION}; {fix}"
            )
        for key, want in shape.items():
            if manifest.get(key) != want:
                raise IndexMismatchError(
                    f"index in {directory}/ was built with {key}={manifest.get(key)!r}, "
                    f"but the settings say {key}={want!r}; {fix}",
                    {k: manifest.get(k) for k in shape}
                )
        options = options or IndexOptions()
        if manifest["format_version"] == 1:
            entries = _read_data(directory / str(manifest.get("data", "")), manifest, fix)
            segments = None
        else:
            # (a whole-index graph that the manifest may name, from before
            # segments had their own, is not read: those segments are searched
            # exactly until a commit builds theirs)
            entries, segments = _read_segments(directory, manifest, fix)
        for segment in segments or []:
            if segment.graph is not None:  # the setting wins over the file's
                segment.graph.hnsw.efSearch = options.hnsw_ef_search
        store = cls(directory, dict(shape), int(manifest["dimension"]), options, entries,
                    generation=str(manifest.get("generation", "")),
                    demo=bool(manifest.get("demo", False)),
                    segments=segments)  # None (format 1): one segment, to be written
        if store.count() != manifest.get("counts", {}).get("chunks"):
            raise IndexMismatchError(
                f"index in {directory}/ is inconsistent ({store.count()} chunks, the "
                f"manifest says {manifest.get('counts', {}).get('chunks')}); {fix}")
        return store

    def is_current(self) -> bool:
        """Whether the manifest on disk is still the one this store read or wrote."""
        try:
            manifest = json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return not self.generation
        return manifest.get("generation", manifest.get("data")) == self.generation


def check_folder(directory: str | os.PathLike[str]) -> None:
    """Refuse to write an index into a folder that holds anything but an index.

    Raises:
        QAError: the folder holds other files and no manifest.
    """
    directory = Path(directory)
    if (directory / MANIFEST).exists() or not directory.exists():
        return
    if not directory.is_dir():
        raise QAError(f"{directory} is a file, not a folder; choose a new folder for the index")
    other = sorted(p.name for p in directory.iterdir() if p.name not in _HARMLESS
                   and not p.name.startswith(_INDEX_PARTS))
    if other:
        raise QAError(
            f"{directory}/ holds files that are not an index ({', '.join(other[:3])}"
            f"{', ...' if len(other) > 3 else ''}); give --index-dir a new or empty folder"
        )


def demo_only(directory: str | os.PathLike[str]) -> bool:
    """Whether the index in `directory` holds only the bundled demo article
    (so it can be rebuilt without asking anyone)."""
    return bool(_manifest(Path(directory)).get("demo", False))


def rebuild_command(directory: Path, most: int = 8) -> str:
    """'rebuild it with: qa index FILES... --rebuild --index-dir DIR', naming the
    files the index holds (their folders, when there are more than `most`), as
    far as its records can still be read."""
    paths: list[str] = []
    try:
        manifest = _manifest(directory)
        folders = [s["name"] for s in manifest.get("segments", [])] or [manifest.get("data", "")]
        for folder in folders:
            for doc in _read_jsonl(directory / str(folder) / "documents.jsonl"):
                held = doc.get("container") or doc.get("path") or ""
                if held and held not in paths:
                    paths.append(held)
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        paths = []
    if len(paths) > most:
        folders = list(dict.fromkeys(str(Path(p).parent) for p in paths))
        paths = folders if len(folders) <= most else []
    named = " ".join(shlex.quote(p) for p in paths) or "PATH..."
    return f"rebuild it with: qa index {named} --rebuild --index-dir {shlex.quote(str(directory))}"


class _Fix:
    """`rebuild_command(directory)`, worked out when first formatted: it reads
    every document record, which opening an index that loads has no need of."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __str__(self) -> str:
        return rebuild_command(self.directory)


def _named(manifest: dict[str, Any]) -> set[str]:
    """The files and folders a manifest reads."""
    return {str(s.get("name")) for s in manifest.get("segments", [])} | \
        {str(manifest.get("data", "")), str(manifest.get("hnsw", ""))} - {""}


def _read_data(data: Path, manifest: dict[str, Any], fix: object) -> dict[str, Entry]:
    """The entries of a format 1 data folder."""
    import faiss

    try:
        index = faiss.read_index(str(data / "vectors.faiss"))
        sentence_vectors = load_array(data / "sentences.npy", mapped=False)
        docs = _read_jsonl(data / "documents.jsonl")
        chunks = _chunk_records(data / "chunks.jsonl")
    except (OSError, RuntimeError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise IndexMismatchError(f"index files in {data.parent}/ are damaged ({exc}); {fix}") \
            from None
    n_sentences = sum(len(d["sentences"]) for d in docs)
    if index.ntotal != len(chunks) or len(sentence_vectors) != n_sentences \
            or index.d != manifest.get("dimension"):
        raise IndexMismatchError(
            f"index in {data.parent}/ is inconsistent ({index.ntotal} vectors, "
            f"{len(chunks)} chunks, {len(sentence_vectors)} sentence vectors); {fix}")
    chunk_vectors = index.reconstruct_n(0, index.ntotal) if index.ntotal else \
        np.zeros((0, index.d), dtype=np.float32)
    try:
        return _entries(docs, chunks, chunk_vectors, sentence_vectors)
    except (KeyError, IndexError, TypeError) as exc:
        raise IndexMismatchError(f"index records in {data.parent}/ are damaged ({exc}); {fix}") \
            from None


def _read_segments(directory: Path, manifest: dict[str, Any], fix: object
                   ) -> tuple[dict[str, Entry], list[Segment]]:
    """The live entries and the segments (with their graphs) of a format 2 index."""
    from .hybrid import Postings

    entries: dict[str, Entry] = {}
    segments = []
    dimension = manifest.get("dimension")
    for listed in manifest.get("segments", []):
        folder = directory / str(listed.get("name", ""))
        removed = frozenset(listed.get("removed", ()))
        try:
            # mapped, not read: the snapshot copies them into its flat arrays once
            vectors = load_array(folder / "vectors.npy")
            sentence_vectors = load_array(folder / "sentences.npy")
            docs = _read_jsonl(folder / "documents.jsonl")
            chunks = _chunk_records(folder / "chunks.jsonl")
            postings = Postings.load(folder)
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise IndexMismatchError(f"index files in {directory}/ are damaged ({exc}); "
                                     f"{fix}") from None
        n_sentences = sum(len(d["sentences"]) for d in docs)
        if len(vectors) != len(chunks) or len(sentence_vectors) != n_sentences or \
                len(postings.lengths) != len(chunks) or \
                (len(vectors) and vectors.shape[1] != dimension):
            raise IndexMismatchError(
                f"index in {directory}/ is inconsistent ({folder.name}: {len(vectors)} "
                f"vectors, {len(chunks)} chunks, {len(sentence_vectors)} sentence vectors); "
                f"{fix}")
        try:
            held = _entries(docs, chunks, vectors, sentence_vectors)
        except (KeyError, IndexError, TypeError) as exc:
            raise IndexMismatchError(f"index records in {directory}/ are damaged ({exc}); "
                                     f"{fix}") from None
        entries.update((p, e) for p, e in held.items() if p not in removed)
        graph = None
        if (folder / GRAPH).exists():
            import faiss

            try:
                graph = faiss.read_index(str(folder / GRAPH))
            except RuntimeError as exc:
                raise IndexMismatchError(f"index files in {directory}/ are damaged ({exc}); "
                                         f"{fix}") from None
            if graph.ntotal != len(chunks):
                raise IndexMismatchError(f"index in {directory}/ is inconsistent "
                                         f"({folder.name}: a graph of {graph.ntotal} rows, "
                                         f"{len(chunks)} chunks); {fix}")
        segments.append(Segment(folder.name, list(held), [len(e.chunks) for e in held.values()],
                                postings, removed, graph))
    return entries, segments


def _write_rows(path: Path, arrays: Sequence[np.ndarray], dtype: Any, width: int) -> None:
    """The rows of `arrays`, one after another, as one .npy file, written
    array by array (a merge copies no segment into memory whole)."""
    n = sum(len(a) for a in arrays)
    width = next((a.shape[1] for a in arrays if a.ndim == 2), width)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, width))
    at = 0
    for array in arrays:
        out[at:at + len(array)] = array
        at += len(array)
    out.flush()
    del out


def _manifest(directory: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((directory / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return {}


def _entries(docs: list[dict], chunks: list[tuple[int, int, int, int]],
             chunk_vectors: np.ndarray, sentence_vectors: np.ndarray) -> dict[str, Entry]:
    """The entries of a saved run of documents. `chunks` (`_chunk_records`):
    per chunk, its document's row, its first sentence's offsets and how many
    sentences it holds; the vectors are sliced, not copied (mapped files
    stay mapped)."""
    by_doc: list[list[int]] = [[] for _ in docs]
    for row, chunk in enumerate(chunks):
        by_doc[chunk[0]].append(row)
    entries: dict[str, Entry] = {}
    sentence_base = 0
    for i, record in enumerate(docs):
        doc = Document(text=record["text"], source=record["source"], path=record["path"],
                       sha256=record["sha256"], page_starts=record["page_starts"],
                       container=record.get("container", ""),
                       blocks=[Block.from_list(b) for b in record.get("blocks", ())])
        sentences = [Span(s, e) for s, e in record["sentences"]]
        local = {(s.start, s.end): n for n, s in enumerate(sentences)}
        rows = by_doc[i]
        table = np.array([(local[(chunks[r][1], chunks[r][2])], chunks[r][3]) for r in rows],
                         np.int64).reshape(-1, 2)
        if rows and rows[-1] - rows[0] + 1 == len(rows):  # (as written: in order)
            own = chunk_vectors[rows[0]:rows[-1] + 1]
        else:
            own = chunk_vectors[rows] if rows else chunk_vectors[:0]
        entries[doc.path] = Entry(
            doc=doc, sentences=sentences, chunks=EntryChunks(doc, sentences, table),
            chunk_vectors=own,
            sentence_vectors=sentence_vectors[sentence_base:sentence_base + len(sentences)],
        )
        sentence_base += len(sentences)
    return entries


def _chunk_records(path: Path) -> list[tuple[int, int, int, int]]:
    """Per line of a chunks.jsonl: its document's row, its first sentence's
    offsets and its sentence count (the text is the document's, not kept)."""
    out = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                chunk = json.loads(line)
                first = chunk["sentences"][0]
                out.append((int(chunk["doc"]), int(first[0]), int(first[1]),
                            len(chunk["sentences"])))
    return out


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _fsync_dir(folder: Path) -> None:
    for file in folder.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
