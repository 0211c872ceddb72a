"""Indexing: files -> documents -> sentences and chunks -> vectors -> store entries.

`read` loads files (no model, no lock); `embed` splits them and runs the
model. The Assistant facade calls both and hands the entries to its store.

One forward pass per chunk gives both vectors: the chunk's (pooled over all
its tokens, for retrieval) and each of its sentences' (pooled over the tokens
inside the sentence, for answering), so a sentence costs nothing extra and its
vector carries its chunk's context. A sentence the token limit cut off, and
one no chunk holds whole, is embedded on its own. A sentence in two chunks
(the overlap) takes its vector from the first.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from . import documents as loaders
from .answering import NOT_FOUND, Answer
from .chunking import Chunk, Span, chunk_document, split_sentences
from .documents.structure import boundaries
from .errors import DocumentError
from .store import Entry
from .store.records import EntryChunks, chunk_table

logger = logging.getLogger(__name__)

BATCH = 256  # chunks embedded together: the model's batches, and a bounded buffer
STEP = 32  # chunks per encode call: progress moves after each (a 400-chunk PDF: 13 times)
# Text per commit of a large add (characters): its vectors, about 60 MB, are
# what indexing holds beyond the documents read.
COMMIT_CHARS = 4_000_000


class Underway:
    """The files being indexed now, each upload with its stage and share done:
    the chat's progress, other open pages, and answers given meanwhile read it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[int, dict[str, Any]] = {}
        self._next = 0

    def start(self, names: list[str]) -> int:
        with self._lock:
            self._next += 1
            self._uploads[self._next] = {"files": list(names), "stage": "reading",
                                         "fraction": 0.0, "name": ""}
            return self._next

    def tell(self, token: int, stage: str, fraction: float, name: str = "",
             files: list[str] | None = None) -> None:
        with self._lock:
            upload = self._uploads.get(token)
            if upload is not None:
                upload.update(stage=stage, fraction=fraction, name=name)
                if files is not None:
                    upload["files"] = list(files)

    def finish(self, token: int) -> None:
        with self._lock:
            self._uploads.pop(token, None)

    def files(self) -> list[str]:
        """The names of the files being indexed, in upload order."""
        with self._lock:
            return list(dict.fromkeys(f for u in self._uploads.values() for f in u["files"]))

    def line(self) -> str:
        """One line for a page: "Indexing HistoryOfAlexnet.pdf: embedding, 45%", or ""."""
        with self._lock:
            uploads = [dict(u) for u in self._uploads.values()]
        return "; ".join(
            f"Indexing {', '.join(u['files'][:3])}{' …' if len(u['files']) > 3 else ''}: "
            f"{u['stage']}, {round(100 * u['fraction'])}%" for u in uploads)


def adopt_shape(settings: Any, recorded: dict[str, Any] | None) -> Any:
    """`settings` with the model, backend and chunking an index records, or
    None when they cannot reproduce its shape (an index from another version)."""
    if not recorded:
        return None
    adopted = settings.with_(**{k: v for k, v in recorded.items()
                                if k in ("model", "backend", "chunk_size", "chunk_overlap")
                                and v is not None})
    return adopted if adopted.index_shape() == recorded else None


def read(paths: Iterable[str | os.PathLike[str]], max_bytes: int,
         on_file: Callable[[str], None] | None = None
         ) -> tuple[list[loaders.Document], list[str]]:
    """The documents of every supported file under `paths`, and one line per
    file skipped (never an exception for a bad file). `on_file` is told the
    name of each file before it is read."""
    docs: list[loaders.Document] = []
    errors: list[str] = []
    for item in loaders.iter_files(paths):
        if isinstance(item, DocumentError):
            errors.append(str(item))
            continue
        if on_file is not None:
            on_file(item.name)
        try:
            found, problems = loaders.load_all(item, max_bytes)
        except DocumentError as exc:
            errors.append(str(exc))
            continue
        errors.extend(str(problem) for problem in problems)
        docs.extend(found)
    return docs, errors


def groups(docs: Sequence[loaders.Document], most: int | None = None
           ) -> list[list[loaders.Document]]:
    """`docs` in order, in runs of about `most` characters (COMMIT_CHARS;
    at least one document each, and one run when there are none)."""
    most = COMMIT_CHARS if most is None else most
    out: list[list[loaders.Document]] = [[]]
    size = 0
    for doc in docs:
        if out[-1] and size + len(doc.text) > most:
            out.append([])
            size = 0
        out[-1].append(doc)
        size += len(doc.text)
    return out


def still_indexing(pieces: Iterator[str | Answer], files: list[str]
                    ) -> Iterator[str | Answer]:
    """The answer given while `files` are being indexed says so: it comes
    from what is indexed so far, and an answer not found may be in them."""
    names = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    verb = "is" if len(files) == 1 else "are"
    missing = f"Not in the documents indexed so far: {names} {verb} still being indexed; " \
              f"ask again in a moment."
    for piece in pieces:
        if piece == NOT_FOUND:  # the text piece before the answer
            piece = missing
        elif isinstance(piece, Answer):
            if piece.found:
                piece.note = "; ".join(filter(None, [
                    piece.note, f"{names} {verb} still being indexed: this answer is from "
                                f"the documents indexed so far"]))
            else:
                piece.text = missing
        yield piece


def embed(docs: Sequence[loaders.Document], settings: Any, embedder: Any,
          progress: bool = False,
          on_done: Callable[[loaders.Document], None] | None = None,
          on_chunks: Callable[[list[Chunk]], None] | None = None) -> list[Entry]:
    """Split and embed the documents into store entries; `on_done` is told
    each document once its vectors are made, `on_chunks` the chunks embedded
    after every `STEP` of them.

    Splitting runs in a thread beside the model (onnxruntime and torch release
    the GIL).
    """
    def split(doc: loaders.Document) -> tuple[loaders.Document, list[Span], list[Chunk]]:
        sentences = split_sentences(doc.text, boundaries(doc.blocks))
        return doc, sentences, chunk_document(doc, settings.chunk_size,
                                              settings.chunk_overlap, sentences)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(docs), desc="Indexing", unit="file")
    entries: list[Entry] = []
    pending: list[tuple[loaders.Document, list[Span], list[Chunk]]] = []
    waiting = 0
    with ThreadPoolExecutor(1) as pool:
        for part in pool.map(split, docs):
            pending.append(part)
            waiting += len(part[2])
            if waiting >= BATCH:
                entries.extend(_vectors(pending, embedder, on_chunks))
                _told(pending, on_done)
                pending, waiting = [], 0
            if bar is not None:
                bar.update(1)
    if pending:
        entries.extend(_vectors(pending, embedder, on_chunks))
        _told(pending, on_done)
    if bar is not None:
        bar.close()
    return entries


def embed_new(docs: Sequence[loaders.Document], held: Iterable[Entry], settings: Any,
              embedder: Any, progress: bool = False,
              on_chunks: Callable[[list[Chunk]], None] | None = None) -> list[Entry]:
    """Entries for `docs`, embedding each text once: a document with the same
    text as an entry `held` (the index's) or as another of `docs` (the same
    file under two names) is made from that entry, without the model."""
    copied, rest = copies(docs, held)
    first: dict[str, loaders.Document] = {}
    twins = []
    for doc in rest:
        if doc.sha256 in first and first[doc.sha256].text == doc.text:
            twins.append(doc)
        else:
            first.setdefault(doc.sha256, doc)
    unique = [d for d in rest if first.get(d.sha256) is d]
    made = embed(unique, settings, embedder, progress, on_chunks=on_chunks)
    return copied + made + copies(twins, made)[0]


def copies(docs: Sequence[loaders.Document], entries: Iterable[Entry]
           ) -> tuple[list[Entry], list[loaders.Document]]:
    """Entries for the documents whose text one of `entries` holds already
    (same bytes: the same sentences, chunks and vectors), made from it
    without the model; and the documents that need embedding."""
    held = {entry.doc.sha256: entry for entry in entries}
    made, rest = [], []
    for doc in docs:
        entry = held.get(doc.sha256)
        if entry is None or entry.doc.text != doc.text:
            rest.append(doc)
            continue
        made.append(Entry(doc=doc, sentences=entry.sentences,
                          chunks=EntryChunks(doc, entry.sentences, chunk_table(entry)),
                          chunk_vectors=entry.chunk_vectors,
                          sentence_vectors=entry.sentence_vectors))
    return made, rest


def _told(parts: list[tuple[loaders.Document, list[Span], list[Chunk]]],
          on_done: Callable[[loaders.Document], None] | None) -> None:
    if on_done is not None:
        for doc, _, _ in parts:
            on_done(doc)


def _vectors(parts: list[tuple[loaders.Document, list[Span], list[Chunk]]],
             embedder: Any, on_chunks: Callable[[list[Chunk]], None] | None = None
             ) -> list[Entry]:
    """Entries for a batch of split documents."""
    chunks = [c for _, _, doc_chunks in parts for c in doc_chunks]
    if not hasattr(embedder, "encode_spans"):  # an embedder that gives whole texts only
        return _separately(parts, embedder, on_chunks)
    spans = [[(s.start - c.start, s.end - c.start) for s in c.sentences] for c in chunks]
    pooled, sentence_parts = [], []
    for at in range(0, len(chunks), STEP):  # in steps, so that progress moves
        vectors, parts_at = embedder.encode_spans([c.text for c in chunks[at:at + STEP]],
                                                  spans[at:at + STEP])
        pooled.append(vectors)
        sentence_parts.extend(parts_at)
        if on_chunks is not None:
            on_chunks(chunks[at:at + STEP])
    chunk_vectors = np.vstack(pooled) if pooled else np.zeros((0, embedder.dimension),
                                                              np.float32)
    entries, at = [], 0
    for doc, sentences, doc_chunks in parts:
        found: dict[tuple[int, int], np.ndarray] = {}
        for chunk in doc_chunks:
            for sentence, vector in zip(chunk.sentences, sentence_parts[at]):
                if vector is not None:
                    found.setdefault((sentence.start, sentence.end), vector)
            at += 1
        missing = [s for s in sentences if (s.start, s.end) not in found]
        if missing:  # cut off by the token limit, or in no chunk whole
            own = embedder.encode([doc.text[s.start:s.end] for s in missing])
            found.update({(s.start, s.end): v for s, v in zip(missing, own)})
        entries.append(_entry(doc, sentences, doc_chunks,
                              chunk_vectors[at - len(doc_chunks):at],
                              [found[(s.start, s.end)] for s in sentences], embedder))
    return entries


def _separately(parts: list[tuple[loaders.Document, list[Span], list[Chunk]]],
                embedder: Any, on_chunks: Callable[[list[Chunk]], None] | None = None
                ) -> list[Entry]:
    """Entries with every sentence and chunk embedded as a text of its own
    (the multilingual model), `STEP` texts a call: each chunk, then its
    sentences, so that `on_chunks` hears of each chunk once all are done."""
    texts: list[str] = []
    completes: list[Chunk | None] = []  # the chunk whose last text this is
    placed = []
    for doc, sentences, chunks in parts:
        row = {(s.start, s.end): i for i, s in enumerate(sentences)}
        sentence_at: dict[int, int] = {}
        chunk_at = []
        for chunk in chunks:
            chunk_at.append(len(texts))
            texts.append(chunk.text)
            completes.append(None)
            for span in chunk.sentences:
                i = row.get((span.start, span.end))
                if i is not None and i not in sentence_at:
                    sentence_at[i] = len(texts)
                    texts.append(doc.text[span.start:span.end])
                    completes.append(None)
            completes[-1] = chunk
        for i, span in enumerate(sentences):  # a sentence no chunk holds whole
            if i not in sentence_at:
                sentence_at[i] = len(texts)
                texts.append(doc.text[span.start:span.end])
                completes.append(None)
        placed.append(([sentence_at[i] for i in range(len(sentences))], chunk_at))
    pieces = []
    for at in range(0, len(texts), STEP):  # in steps, so that progress moves
        pieces.append(embedder.encode(texts[at:at + STEP]))
        if on_chunks is not None:
            on_chunks([c for c in completes[at:at + STEP] if c is not None])
    vectors = np.vstack(pieces) if pieces else np.zeros((0, embedder.dimension), np.float32)
    return [_entry(doc, sentences, chunks, vectors[chunk_at], vectors[sentence_at], embedder)
            for (doc, sentences, chunks), (sentence_at, chunk_at) in zip(parts, placed)]


def _entry(doc: loaders.Document, sentences: list[Span], chunks: list[Chunk],
           chunk_vectors: Any, sentence_vectors: Any, embedder: Any) -> Entry:
    def block(rows: Any) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros((0, embedder.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(rows), dtype=np.float32)

    return Entry(doc=doc, sentences=sentences, chunks=chunks,
                 chunk_vectors=block(chunk_vectors), sentence_vectors=block(sentence_vectors))
