"""The FAISS store: FAISS vectors, chunk and document records, manifest.

The only module that reads or writes index files. Layout of an index folder:

    manifest.json          written last; names the live data folder
    data-<generation>/
        vectors.faiss      chunk vectors (inner product over unit vectors)
        sentences.npy      one unit vector per sentence, in document order
        documents.jsonl    path, name, sha256, text, page starts, sentence spans
        chunks.jsonl       document index, offsets, page, text, sentence range

A save writes a new data folder, then swaps the manifest in with an atomic
rename, so a crash at any point leaves the previous index loadable. The
previous data folder is kept until the next save, so a reader that read the
old manifest just before the swap still finds its files; a reader that loses
that race anyway re-reads the manifest and retries. No pickle.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..chunking import Chunk, Span
from ..documents import Document
from ..documents.structure import Block
from ..errors import IndexMismatchError, IndexNotFoundError, QAError
from .records import Entry, Found, Records

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# What may sit in a folder before an index is written into it.
_HARMLESS = {".lock", ".gitkeep", "README.md", ".DS_Store", ".manifest.json.tmp"}


@dataclass
class IndexOptions:
    """How the FAISS index is built (from Settings)."""

    index_type: str = "auto"
    hnsw_threshold: int = 100_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 256  # the same default as Settings


def build_faiss(vectors: np.ndarray, options: IndexOptions):  # type: ignore[no-untyped-def]
    """Exact search for small collections, HNSW for large ones."""
    import faiss

    n, dim = vectors.shape if vectors.size else (0, vectors.shape[1])
    kind = options.index_type
    if kind == "auto":
        kind = "hnsw" if n > options.hnsw_threshold else "flat"
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
    prebuilt: Any = field(default=None, repr=False)  # a loaded FAISS index to reuse
    generation: str = ""  # the data folder this store was loaded from or saved to
    demo: bool = False  # holds only the bundled demo, which the user's first files replace
    shared = False  # one machine's folder (a class attribute, not a field)

    def __post_init__(self) -> None:
        self._flatten()
        if self.prebuilt is not None and self.prebuilt.ntotal == len(self.chunk_vectors):
            self.index = self.prebuilt
        else:
            self.index = build_faiss(self.chunk_vectors, self.options)
        self.prebuilt = None
        self._lexical: Any = None

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
               demo: bool | None = None) -> Store:
        """Save a new store without `remove` and with `add`; return it."""
        store = self.updated(remove, add, demo)
        store.save()
        return store

    # -- updates ----------------------------------------------------------
    def updated(self, remove: Iterable[str] = (), add: Iterable[Entry] = (),
                demo: bool | None = None) -> Store:
        """A new Store without `remove` and with `add` (replacing same paths)."""
        dropped = set(remove)
        entries = {p: e for p, e in self.entries.items() if p not in dropped}
        for entry in add:
            entries[entry.doc.path] = entry
        # The dimension comes from the vectors held, so any embedding model works.
        dimension = next((e.chunk_vectors.shape[1] for e in entries.values()), self.dimension)
        return Store(self.directory, self.shape, int(dimension), self.options, entries,
                     demo=self.demo if demo is None else demo)

    def empty(self) -> Store:
        """A Store in the same folder with nothing in it (for a rebuild).

        Raises:
            QAError: the folder holds other files and no index.
        """
        check_folder(self.directory)
        return Store(self.directory, self.shape, self.dimension, self.options)

    # -- persistence ------------------------------------------------------
    def save(self) -> None:
        """Write a new data folder, then atomically point the manifest at it."""
        import faiss

        self.directory.mkdir(parents=True, exist_ok=True)
        generation = f"data-{time.time_ns()}"
        tmp = self.directory / f".{generation}.tmp"
        tmp.mkdir()
        faiss.write_index(self.index, str(tmp / "vectors.faiss"))
        np.save(tmp / "sentences.npy", self.sentence_vectors, allow_pickle=False)
        doc_index: dict[str, int] = {}
        with open(tmp / "documents.jsonl", "w", encoding="utf-8") as out:
            for i, (path, entry) in enumerate(self.entries.items()):
                doc_index[path] = i
                out.write(json.dumps({
                    "path": path, "source": entry.doc.source, "sha256": entry.doc.sha256,
                    "page_starts": entry.doc.page_starts, "container": entry.doc.container,
                    "sentences": [[s.start, s.end] for s in entry.sentences],
                    "blocks": [b.to_list() for b in entry.doc.blocks],
                    "text": entry.doc.text,
                }, ensure_ascii=False) + "\n")
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as out:
            for chunk in self.chunks:
                out.write(json.dumps({
                    "doc": doc_index[chunk.path], "source": chunk.source,
                    "start": chunk.start, "end": chunk.end, "page": chunk.page,
                    "sentences": [[s.start, s.end] for s in chunk.sentences],
                    "text": chunk.text,
                }, ensure_ascii=False) + "\n")
        _fsync_dir(tmp)
        os.replace(tmp, self.directory / generation)
        previous = _manifest(self.directory).get("data")
        self.generation = generation
        manifest = {
            "format_version": FORMAT_VERSION,
            **self.shape,
            "dimension": self.dimension,
            "data": generation,
            "counts": {"documents": len(self.entries), "chunks": len(self.chunks),
                       "sentences": len(self.sentence_spans)},
            "files": self.files(),
            "demo": self.demo,
        }
        _write_atomic(self.directory / MANIFEST, json.dumps(manifest, indent=2))
        for old in self.directory.glob("data-*"):
            if old.name not in (generation, previous):  # readers may still need `previous`
                shutil.rmtree(old, ignore_errors=True)
        for old in self.directory.glob(".data-*.tmp"):
            shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: str | os.PathLike[str], shape: dict[str, Any],
             options: IndexOptions | None = None) -> Store:
        """Open the index in `directory`, checking it matches `shape`.

        Raises:
            IndexNotFoundError: no manifest in the folder.
            IndexMismatchError: other model/backend/format, or damaged files.
        """
        directory = Path(directory)
        while True:
            before = _manifest(directory).get("data")
            try:
                return cls._load(directory, shape, options)
            except IndexMismatchError:
                # Two saves swapped the manifest while we read the old data:
                # read the new one. Damage that stays put is reported.
                if _manifest(directory).get("data") == before:
                    raise

    @classmethod
    def _load(cls, directory: Path, shape: dict[str, Any],
              options: IndexOptions | None = None) -> Store:
        import faiss

        fix = rebuild_command(directory)
        try:
            manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexNotFoundError(
                f"no index in {directory}/; build one with: qa index PATH... --index-dir {directory}"
            ) from None
        except (OSError, ValueError) as exc:
            raise IndexMismatchError(f"the manifest in {directory}/ is unreadable ({exc}); {fix}") from None
        if manifest.get("format_version") != FORMAT_VERSION:
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
        data = directory / str(manifest.get("data", ""))
        try:
            index = faiss.read_index(str(data / "vectors.faiss"))
            sentence_vectors = np.load(data / "sentences.npy", allow_pickle=False)
            docs = _read_jsonl(data / "documents.jsonl")
            chunks = _read_jsonl(data / "chunks.jsonl")
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexMismatchError(f"index files in {directory}/ are damaged ({exc}); {fix}") from None
        n_sentences = sum(len(d["sentences"]) for d in docs)
        if index.ntotal != len(chunks) or len(sentence_vectors) != n_sentences \
                or index.d != manifest.get("dimension") \
                or manifest.get("counts", {}).get("chunks") != len(chunks):
            raise IndexMismatchError(
                f"index in {directory}/ is inconsistent ({index.ntotal} vectors, "
                f"{len(chunks)} chunks, {len(sentence_vectors)} sentence vectors); {fix}"
            )
        chunk_vectors = index.reconstruct_n(0, index.ntotal) if index.ntotal else \
            np.zeros((0, index.d), dtype=np.float32)
        try:
            entries = _entries(docs, chunks, chunk_vectors, sentence_vectors)
        except (KeyError, IndexError, TypeError) as exc:
            raise IndexMismatchError(f"index records in {directory}/ are damaged ({exc}); {fix}") from None
        options = options or IndexOptions()
        if hasattr(index, "hnsw"):  # the setting wins over the value saved in the file
            index.hnsw.efSearch = options.hnsw_ef_search
        return cls(directory, dict(shape), int(manifest["dimension"]), options, entries,
                   prebuilt=index, generation=str(manifest["data"]),
                   demo=bool(manifest.get("demo", False)))

    def is_current(self) -> bool:
        """Whether the manifest on disk still names this store's data."""
        try:
            manifest = json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return not self.generation
        return manifest.get("data") == self.generation


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
                   and not p.name.startswith(("data-", ".data-")))
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
        data = directory / str(_manifest(directory).get("data", ""))
        for doc in _read_jsonl(data / "documents.jsonl"):
            held = doc.get("container") or doc.get("path") or ""
            if held and held not in paths:
                paths.append(held)
    except (OSError, ValueError, TypeError, AttributeError):
        paths = []
    if len(paths) > most:
        folders = list(dict.fromkeys(str(Path(p).parent) for p in paths))
        paths = folders if len(folders) <= most else []
    named = " ".join(shlex.quote(p) for p in paths) or "PATH..."
    return f"rebuild it with: qa index {named} --rebuild --index-dir {shlex.quote(str(directory))}"


def _manifest(directory: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((directory / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return {}


def _entries(docs: list[dict], chunks: list[dict], chunk_vectors: np.ndarray,
             sentence_vectors: np.ndarray) -> dict[str, Entry]:
    by_doc: list[list[int]] = [[] for _ in docs]
    for row, chunk in enumerate(chunks):
        by_doc[chunk["doc"]].append(row)
    entries: dict[str, Entry] = {}
    sentence_base = 0
    for i, record in enumerate(docs):
        doc = Document(text=record["text"], source=record["source"], path=record["path"],
                       sha256=record["sha256"], page_starts=record["page_starts"],
                       container=record.get("container", ""),
                       blocks=[Block.from_list(b) for b in record.get("blocks", ())])
        sentences = [Span(s, e) for s, e in record["sentences"]]
        rows = by_doc[i]
        entries[doc.path] = Entry(
            doc=doc,
            sentences=sentences,
            chunks=[Chunk(source=doc.source, path=doc.path, start=chunks[r]["start"],
                          end=chunks[r]["end"], text=chunks[r]["text"],
                          sentences=[Span(s, e) for s, e in chunks[r]["sentences"]],
                          page=chunks[r]["page"]) for r in rows],
            chunk_vectors=chunk_vectors[rows] if rows else chunk_vectors[:0],
            sentence_vectors=sentence_vectors[sentence_base:sentence_base + len(sentences)],
        )
        sentence_base += len(sentences)
    return entries


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
