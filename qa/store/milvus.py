"""The Milvus store: the index in Milvus, from one Milvus Lite file to a cluster.

The same code serves both through `MilvusClient(uri=...)`. For a collection
name N, four collections (each reached through an alias, so a rebuild can
swap a whole new set in at once):

    N_documents   per file: path, name, sha256, page starts, counts; and one
                  "_meta" row with the model fingerprint and the demo flag
    N_chunks      chunk text and metadata, its dense vector, and its terms
                  (our stemmed terms, space-joined) turned into a sparse
                  vector by Milvus's BM25 function, so hybrid search with
                  reciprocal rank fusion runs inside Milvus
    N_sentences   per sentence: offsets, its text up to the next sentence
                  (runs of rows rebuild the document's text exactly), its vector
    N_postings    per file and term: how many of the file's chunks hold it
    N_terms       per term: the sum over files (document frequencies for the
                  answer scorer's IDF, read by key), adjusted by each write

Writes are idempotent upserts. A row's key holds the hash of its file's path,
the file's sha256 and its position, so an indexer that runs again, or two
indexers on the same file, write the same rows, and indexers on different
files never touch each other's rows. A file's documents row is written after
its other rows, and it is what makes them count: a search drops hits whose
sha256 is not the one the documents row names. So an indexing run killed
mid-way shows no half-file, and an update shows the old version until the new
one is complete. Rows of an old version are deleted after the new row is in.

A question reads a few rows: the hybrid search's hits, the documents rows
that vouch for them (cached by path, re-read when a hit's sha256 differs),
the sentences around the hits (cached: a row never changes under its key),
and the document frequencies of the question's terms (cached for
STATS_TTL seconds).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .. import naming
from ..chunking import Chunk, Span, terms
from ..documents import Document, structure
from ..documents.structure import Block
from ..errors import IndexMismatchError, IndexNotFoundError, QAError
from .records import Entry, Found, Hit, Records, TextWindow

logger = logging.getLogger(__name__)

# Milvus caps a JSON field at 64 KiB: a document's structure blocks beyond
# this many characters of JSON are kept as kinds without heading titles.
MAX_BLOCKS_JSON = 40_000


def _bounded_blocks(blocks: list[Block]) -> list[list[Any]]:
    rows = [b.to_list() for b in blocks]
    if len(json.dumps(rows)) > MAX_BLOCKS_JSON:
        rows = [row[:4] for row in rows]
    while rows and len(json.dumps(rows)) > MAX_BLOCKS_JSON:
        rows = rows[:len(rows) * 3 // 4]
    return rows

KINDS = ("documents", "chunks", "sentences", "postings", "terms")
PARTS = ("chunks", "sentences", "postings")  # a file's rows, besides its documents row
META = "_meta"
PAD = 2  # Milvus wants a vector field in every collection; bookkeeping rows get a zero pair
MAX_TEXT = 65_535  # Milvus's VARCHAR limit, in bytes
BATCH = 1_000  # rows per upsert: well under gRPC's 64 MB message limit at 384 dimensions
STATS_TTL = 30.0  # seconds an answer may use document frequencies another process has since changed
MIN_VERSION = (2, 5)  # the first Milvus with the BM25 function qa's hybrid search runs
# Reads see every write that came before them, from any client: a commit needs
# no flush to be seen (pymilvus's default, Bounded, gave 40 of 40 stale reads
# right after a write on a real server).
CONSISTENCY = "Strong"
READS = frozenset({"query", "search", "get", "hybrid_search"})
TIMEOUT = 15.0  # seconds per Milvus call before the question fails with a clear message
SENTENCE_CACHE = 50_000  # sentence rows kept in memory (~100 MB at 384 dimensions)
# What a hit brings back: numbers only. The chunk's text is rebuilt from its
# sentences, and its file's name and path come with the documents row.
CHUNK_FIELDS = ["doc", "sha", "position", "start", "end", "page", "first", "count", "total"]
BM25 = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, which the FAISS store uses

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()
_stats_lock = threading.Lock()  # document-frequency updates in this process, one at a time


class StoreError(QAError):
    """Milvus cannot be reached, or failed a request."""


def doc_id(path: str) -> str:
    """A file's key in Milvus: filters and keys never carry a raw path."""
    return hashlib.sha1(path.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def _quote(text: str) -> str:
    """A string literal for a Milvus filter expression."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def _connect(uri: str) -> Any:
    """One MilvusClient per uri and token in this process.

    Raises:
        StoreError: Milvus cannot be reached (the message names the uri).
    """
    token = os.environ.get("QA_MILVUS_TOKEN", "")
    key = (uri, token)
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        # gRPC's C core prints "GOAWAY ... too_many_pings" (ENHANCE_YOUR_CALM)
        # when a Milvus server rate-limits the client's keepalive pings; the
        # channel reconnects and no call fails, so those lines only alarm. Set
        # before grpc loads; QA users who want gRPC's log set GRPC_VERBOSITY.
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise StoreError("the Milvus store needs pymilvus (and milvus-lite for a .db "
                             "file): pip install pymilvus==3.0.2 milvus-lite==3.2.2") from None

        # pymilvus and milvus_lite log tracebacks for failed calls; the
        # one-line errors this module raises say it instead.
        for name in ("pymilvus", "milvus_lite"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if uri.endswith(".db"):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            # Milvus Lite's in-process server logs a traceback for each call it
            # does not implement (AllocTimestamp, which query_iterator tries
            # before falling back); the client copes.
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        try:
            client = MilvusClient(uri=uri, token=token, timeout=TIMEOUT)
        except Exception as exc:  # pymilvus raises several kinds for one cause
            hint = "; is it open in another process? share one file through a server: " \
                   "milvus-lite server --data-dir DIR, then QA_STORE=milvus://127.0.0.1:19530" \
                if uri.endswith(".db") else ""
            raise StoreError(f"cannot reach Milvus at {uri} ({_reason(exc)}){hint}") from None
        _check_version(client, uri)
        _clients[key] = client
        return client


def _check_version(client: Any, uri: str) -> None:
    """Refuse a Milvus server older than MIN_VERSION before anything is created.

    Raises:
        StoreError: the server is too old (the message names both versions).
    """
    try:
        found = str(client.get_server_version())
    except Exception as exc:
        with contextlib.suppress(Exception):
            client.close()
        raise StoreError(f"cannot reach Milvus at {uri} ({_reason(exc)})") from None
    if found.startswith("milvus_lite"):  # Milvus Lite 3.x: BM25 and all qa needs
        return
    number = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", found)
    if number and (int(number.group(1)), int(number.group(2))) < MIN_VERSION:
        with contextlib.suppress(Exception):
            client.close()
        need = ".".join(map(str, MIN_VERSION))
        raise StoreError(
            f"Milvus at {uri} is version {number.group(0)}, but qa needs Milvus {need} or "
            f"later (its BM25 function); upgrade the server, or use Milvus Lite "
            f"(QA_STORE=milvus://index/milvus.db); see docs/milvus.md")


def _bm25_text(words: list[str]) -> str:
    """Our terms as Milvus's standard analyzer will keep them: one token each.
    It splits at "-" and "'", so "uk-wid" would become two terms and BM25
    would rank differently from the FAISS store's (XQuAD had one such case)."""
    return " ".join(_NON_WORD.sub("_", word) for word in words)


_NON_WORD = re.compile(r"\W")


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc) or type(exc).__name__
    return " ".join(text.split())[:200]


class MilvusStore:
    """The index in Milvus collections named after `name`.

    Build with `open` (an existing index) or `create` (an empty one).
    """

    shared = True  # other processes and machines write here too

    def __init__(self, uri: str, name: str, shape: dict[str, Any], dimension: int = 0,
                 demo: bool = False, generation: str = "", directory: Path | None = None) -> None:
        self.directory = directory or Path(".")  # the index folder the collection is named after
        self.uri = uri
        self.name = name
        self.shape = dict(shape)
        self.dimension = dimension
        self.demo = demo
        # A rebuild writes into a new generation of collections and swaps the
        # aliases over when complete; other writes go through the aliases.
        self._generation = generation
        self.client = _connect(uri)
        self._docs: dict[str, dict[str, Any]] = {}
        self._sentences: OrderedDict[str, tuple[int, int, str, np.ndarray]] = OrderedDict()
        self._df: dict[str, tuple[float, int]] = {}
        self._total: tuple[float, int] = (0.0, 0)
        self._cache_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="qa-milvus")

    # -- opening ------------------------------------------------------------
    @classmethod
    def open(cls, uri: str, name: str, shape: dict[str, Any],
             directory: Path | None = None) -> MilvusStore:
        """The index in collection `name`.

        Raises:
            StoreError: Milvus cannot be reached.
            IndexNotFoundError: no such collection yet.
            IndexMismatchError: built with another model or chunking.
        """
        store = cls(uri, name, shape, directory=directory)
        meta = store._meta()
        if meta is None:
            raise IndexNotFoundError(
                f"no collection {name} in Milvus at {uri}; build one with: "
                f"qa index PATH... --store {store.spec}")
        for key, want in shape.items():
            if meta["shape"].get(key) != want:
                raise IndexMismatchError(
                    f"collection {name} in Milvus at {uri} was built with "
                    f"{key}={meta['shape'].get(key)!r}, but the settings say {key}={want!r}; "
                    f"rebuild it with: qa index PATH... --rebuild --store {store.spec}",
                    {k: meta["shape"].get(k) for k in shape})
        store.dimension = int(meta["dimension"])
        store.demo = bool(meta.get("demo", False))
        return store

    @classmethod
    def create(cls, uri: str, name: str, shape: dict[str, Any],
               directory: Path | None = None) -> MilvusStore:
        """An empty index in collection `name`, made on the first commit."""
        return cls(uri, name, shape, directory=directory)

    @property
    def spec(self) -> str:
        """The QA_STORE value for this store."""
        if self.uri.endswith(".db"):
            return f"milvus://{self.uri}"
        if self.uri.startswith("https://"):
            return "milvus+" + self.uri
        return "milvus://" + self.uri.removeprefix("http://")

    @property
    def location(self) -> str:
        return f"collection {self.name} in Milvus at {self.uri}"

    def _alias(self, kind: str) -> str:
        return f"{self.name}_{kind}"

    def _target(self, kind: str) -> str:
        """Where writes go: the new generation during a rebuild, else the alias."""
        return f"{self.name}_{self._generation}_{kind}" if self._generation else self._alias(kind)

    # -- calls ----------------------------------------------------------------
    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A MilvusClient call; any failure becomes one clear StoreError."""
        if method in READS or method == "create_collection":
            kwargs.setdefault("consistency_level", CONSISTENCY)
        try:
            return getattr(self.client, method)(*args, timeout=TIMEOUT, **kwargs)
        except QAError:
            raise
        except Exception as exc:
            if "released" in str(exc) or "not loaded" in str(exc):
                # A restarted Milvus (Lite) comes back with its collections released.
                with contextlib.suppress(Exception):
                    for kind in KINDS:
                        self.client.load_collection(self._alias(kind), timeout=TIMEOUT)
                    return getattr(self.client, method)(*args, timeout=TIMEOUT, **kwargs)
            raise StoreError(f"Milvus at {self.uri} did not answer ({_reason(exc)}); "
                             f"try again once it is back") from None

    def _meta(self) -> dict[str, Any] | None:
        if not self._call("has_collection", self._alias("documents")):
            return None
        self._repair()
        for kind in KINDS:  # a restarted Milvus holds its collections released
            self._call("load_collection", self._alias(kind))
        rows = self._call("get", self._alias("documents"), ids=[META], output_fields=["info"])
        return rows[0]["info"] if rows else None

    # -- reading --------------------------------------------------------------
    def files(self) -> dict[str, dict[str, Any]]:
        """Per indexed file: display name, sha256, chunk count and sentences by kind."""
        out: dict[str, dict[str, Any]] = {}
        if not self._call("has_collection", self._alias("documents")):
            return out
        for row in self._rows(self._alias("documents"), f"id != {_quote(META)}",
                              ["path", "source", "sha", "info"]):
            out[row["path"]] = {"source": row["source"], "sha256": row["sha"],
                                "chunks": row["info"]["chunks"],
                                "container": row["info"].get("container") or row["path"],
                                "title": row["info"].get("title", ""),
                                "sentences": row["info"].get("kinds", {})}
        return out

    def _rows(self, collection: str, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every row of `collection` matching `expr`: one query when they fit in
        one (Milvus returns at most 16,384), else a query iterator."""
        rows = self._call("query", collection, filter=expr, output_fields=fields, limit=16_384)
        if len(rows) < 16_384:
            yield from rows
            return
        try:
            iterator = self.client.query_iterator(collection, batch_size=1000,
                                                  filter=expr, output_fields=fields,
                                                  timeout=TIMEOUT,
                                                  consistency_level=CONSISTENCY)
            while True:
                page = iterator.next()
                if not page:
                    iterator.close()
                    return
                yield from page
        except Exception as exc:
            raise StoreError(f"Milvus at {self.uri} did not answer ({_reason(exc)}); "
                             f"try again once it is back") from None

    def passage(self, path: str, start: int, end: int) -> str:
        """The stored text of `path` at [start, end), from its sentence rows
        (each holds its sentence and the space after it)."""
        doc = doc_id(path)
        rows = sorted(self._rows(self._alias("sentences"),
                                 f"doc == {_quote(doc)} and start < {int(end)} and "
                                 f"end > {int(start)}", ["start", "piece"]),
                      key=lambda r: r["start"])
        if not rows:
            return ""
        text = TextWindow("".join(r["piece"] for r in rows), rows[0]["start"])
        return text[max(start, rows[0]["start"]):end]

    def records(self, paths: Iterable[str]) -> Records:
        """Whole documents (every sentence with its vector, and the document's
        structure) as Records keyed by path: what digests, lists and where
        questions read. Each call reads them from Milvus (no cache: a long
        document is read once per such question)."""
        wanted = {doc_id(p): p for p in paths}
        if not wanted:
            return Records(self.dimension)
        rows = self._call("get", self._alias("documents"), ids=list(wanted),
                          output_fields=["path", "source", "sha", "info"])
        entries: dict[str, Entry] = {}
        for row in sorted(rows, key=lambda r: r["path"]):
            parts = sorted(self._rows(self._alias("sentences"),
                                      f"doc == {_quote(row['id'])} and sha == {_quote(row['sha'])}",
                                      ["start", "end", "piece", "vector"]),
                           key=lambda r: r["start"])
            if not parts:
                continue
            info = row["info"]
            # Each sentence row holds its sentence and the text up to the next;
            # the first also the text before it: together, the whole text.
            document = Document(text="".join(r["piece"] for r in parts), source=row["source"],
                                path=row["path"], sha256=row["sha"],
                                page_starts=info["page_starts"],
                                blocks=[Block.from_list(b) for b in info.get("blocks", ())])
            entries[row["path"]] = Entry(
                doc=document, sentences=[Span(r["start"], r["end"]) for r in parts], chunks=[],
                chunk_vectors=np.zeros((0, self.dimension), dtype=np.float32),
                sentence_vectors=np.asarray([r["vector"] for r in parts], dtype=np.float32))
        return Records(self.dimension, entries)

    def count(self) -> int:
        """Chunks held."""
        return sum(info["chunks"] for info in self.files().values())

    def known_documents(self) -> list[Document]:
        """Nothing: whole documents stay in Milvus, so new files are compared
        for near duplicates only with each other."""
        return []

    def latest(self) -> MilvusStore:
        """Every read goes to Milvus, so this store is always current."""
        return self

    def containing(self, snippet: str) -> set[str]:
        """Paths of the documents with a chunk whose text holds `snippet`."""
        for ch in '%_\\"\n\r\t':  # LIKE wildcards and escapes: match the text before them
            snippet = snippet.split(ch, 1)[0]
        if len(snippet) < 20:
            return set()
        rows = self._call("query", self._alias("chunks"),
                          filter=f"text like {_quote('%' + snippet + '%')}",
                          output_fields=["path", "doc", "sha"], limit=100)
        live = self._live({r["doc"]: r["sha"] for r in rows})
        return {r["path"] for r in rows if live.get(r["doc"], {}).get("sha") == r["sha"]}

    def search(self, queries: Sequence[tuple[np.ndarray, list[str]]], k: int,
               candidates: int, rrf_k: int, prefer: set[str] | None = None,
               only: set[str] | None = None) -> Found:
        """Hybrid search in Milvus (dense + BM25, RRF) for each query, and the
        records its hits need to be answered from.

        Two rounds of calls, each run side by side: the searches with the
        document frequencies, then the documents rows with the sentences."""
        idf = self._pool.submit(self._idf, {t for _, q in queries for t in q})
        ranked = [self._hybrid(vector, query_terms, k, candidates, rrf_k, prefer, only)
                  for vector, query_terms in queries]
        wanted = {e["doc"]: e["sha"] for hits in ranked for _, e in hits}
        sentences = self._pool.submit(self._sentence_rows, sorted(
            {key for hits in ranked for _, e in hits for key in self._around(e)}))
        live = self._live(wanted)
        # A hit counts only when its file's documents row names its version.
        ranked = [[(score, e) for score, e in hits if live.get(e["doc"], {}).get("sha") == e["sha"]]
                  for hits in ranked]
        records, rows = self._records([e for hits in ranked for _, e in hits], live,
                                      sentences.result())
        # Hit.dense from the chunk's sentence mean: fetching chunk vectors would
        # cost a third of the search, and nothing downstream reads them.
        out = [[Hit(rows[(e["doc"], e["position"])], score,
                    float(records.chunk_means[rows[(e["doc"], e["position"])]] @ vector))
                for score, e in hits] for (vector, _), hits in zip(queries, ranked)]
        return Found(records, out, idf.result())

    def _hybrid(self, vector: np.ndarray, query_terms: list[str], k: int, candidates: int,
                rrf_k: int, prefer: set[str] | None,
                only: set[str] | None) -> list[tuple[float, dict[str, Any]]]:
        """The top `k` chunks by RRF of dense and BM25 ranks, fused in Milvus.

        With `prefer`, `candidates` come back and those chunks gain one more
        first place, as in the FAISS store; with `only`, both searches are
        filtered to those documents."""
        from pymilvus import AnnSearchRequest, RRFRanker

        expr = ""
        if only is not None:
            expr = f"doc in [{', '.join(_quote(doc_id(p)) for p in sorted(only))}]"
        limit = candidates if prefer else k
        dense = AnnSearchRequest([vector.tolist()], "vector", {"metric_type": "IP"},
                                 limit=candidates, expr=expr)
        if query_terms:
            lexical = AnnSearchRequest([_bm25_text(query_terms)], "sparse",
                                       {"metric_type": "BM25"}, limit=candidates, expr=expr)
            result = self._call("hybrid_search", self._alias("chunks"), [dense, lexical],
                                RRFRanker(rrf_k), limit=limit, output_fields=CHUNK_FIELDS)
            hits = [(float(h["distance"]), h["entity"]) for h in result[0]]
        else:  # nothing for BM25 to match: the dense ranking alone, scored as RRF
            result = self._call("search", self._alias("chunks"), [vector.tolist()],
                                anns_field="vector", limit=limit, filter=expr,
                                search_params={"metric_type": "IP"}, output_fields=CHUNK_FIELDS)
            hits = [(1.0 / (rrf_k + rank + 1), h["entity"]) for rank, h in enumerate(result[0])]
        if prefer:
            preferred = {doc_id(path) for path in prefer}
            hits = [(score + (1.0 / (rrf_k + 1) if e["doc"] in preferred else 0.0), e)
                    for score, e in hits]
            hits.sort(key=lambda pair: -pair[0])
        return hits[:k]

    def _around(self, chunk: dict[str, Any]) -> list[str]:
        """Keys of a chunk's sentences, with one either side (what the answerer
        reads: the sentence before a candidate, and the answer's neighbours)."""
        lo, hi = self._reach(chunk)
        return [self._key(chunk["doc"], chunk["sha"], i) for i in range(lo, hi + 1)]

    @staticmethod
    def _reach(chunk: dict[str, Any]) -> tuple[int, int]:
        return (max(0, chunk["first"] - 1),
                min(chunk["total"] - 1, chunk["first"] + chunk["count"]))

    def _live(self, wanted: dict[str, str]) -> dict[str, dict[str, Any]]:
        """The documents rows for these ids (cached; read again for an id not
        seen or with another sha256, so other processes' files show at once)."""
        with self._cache_lock:
            missing = [d for d, sha in wanted.items()
                       if d not in self._docs or self._docs[d]["sha"] != sha]
        if missing:
            rows = self._call("get", self._alias("documents"), ids=missing,
                              output_fields=["path", "source", "sha", "info"])
            with self._cache_lock:
                for row in rows:
                    self._docs[row["id"]] = row
        with self._cache_lock:
            return {d: self._docs[d] for d in wanted if d in self._docs}

    def _records(self, hits: list[dict[str, Any]], live: dict[str, dict[str, Any]],
                 sentences: dict[str, tuple[int, int, str, np.ndarray]],
                 ) -> tuple[Records, dict[tuple[str, int], int]]:
        """Records holding the hit chunks and, per document, each run of
        sentences they reach (`_around`)."""
        by_doc: dict[str, dict[int, dict[str, Any]]] = {}
        for e in hits:
            by_doc.setdefault(e["doc"], {})[e["position"]] = e
        wanted: dict[str, list[tuple[int, int]]] = {}
        for doc, chunks in by_doc.items():
            merged: list[list[int]] = []
            for lo, hi in sorted(self._reach(c) for c in chunks.values()):
                if merged and lo <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], hi)
                else:
                    merged.append([lo, hi])
            wanted[doc] = [(lo, hi) for lo, hi in merged]
        entries: dict[str, Entry] = {}
        order: list[tuple[str, int]] = []
        for doc, runs in wanted.items():
            row = live[doc]
            info = row["info"]
            for lo, hi in runs:
                try:
                    parts = [sentences[self._key(doc, row["sha"], i)] for i in range(lo, hi + 1)]
                except KeyError:
                    raise StoreError(f"{self.location} lacks sentence rows of {row['source']}; "
                                     f"index it again, or rebuild with: qa index PATH... "
                                     f"--rebuild --store {self.spec}") from None
                spans: list[Span] = [Span(start, end) for start, end, _, _ in parts]
                # The first sentence's row also holds the text before it.
                text = TextWindow("".join(piece for _, _, piece, _ in parts),
                                  0 if lo == 0 else spans[0].start)
                held: list[Chunk] = []
                for position, c in sorted(by_doc[doc].items()):
                    if not lo <= c["first"] <= hi:
                        continue
                    at = c["first"] - lo
                    held.append(Chunk(source=row["source"], path=row["path"], start=c["start"],
                                      end=c["end"], text=text[c["start"]:c["end"]],
                                      sentences=spans[at:at + c["count"]],
                                      page=None if c["page"] < 0 else c["page"]))
                    order.append((doc, position))
                document = Document(text=text, source=row["source"], path=row["path"],
                                    sha256=row["sha"], page_starts=info["page_starts"],
                                    blocks=[Block.from_list(b) for b in info.get("blocks", ())])
                entries[f"{row['path']}\x00{lo}"] = Entry(
                    doc=document, sentences=spans, chunks=held,
                    # Chunk vectors stay in Milvus; the answerer reads sentence vectors.
                    chunk_vectors=np.zeros((len(held), self.dimension), dtype=np.float32),
                    sentence_vectors=np.vstack([v for _, _, _, v in parts]))
        return Records(self.dimension, entries), {key: i for i, key in enumerate(order)}

    @staticmethod
    def _key(doc: str, sha: str, position: int) -> str:
        return f"{doc}:{sha[:16]}:{position}"

    def _sentence_rows(self, keys: list[str]) -> dict[str, tuple[int, int, str, np.ndarray]]:
        """Sentence rows by key, from the cache or Milvus."""
        with self._cache_lock:
            have = {k: self._sentences[k] for k in keys if k in self._sentences}
        missing = [k for k in keys if k not in have]
        if missing:
            rows = self._call("get", self._alias("sentences"), ids=missing,
                              output_fields=["start", "end", "piece", "vector"])
            with self._cache_lock:
                for r in rows:
                    value = (r["start"], r["end"], r["piece"],
                             np.asarray(r["vector"], dtype=np.float32))
                    have[r["id"]] = self._sentences[r["id"]] = value
                while len(self._sentences) > SENTENCE_CACHE:
                    self._sentences.popitem(last=False)
        return have

    def _idf(self, wanted: set[str]) -> Callable[[str], float]:
        """BM25's (Lucene) IDF over chunks, as the FAISS store computes it."""
        now = time.monotonic()
        with self._cache_lock:
            fresh = {t: df for t, (at, df) in self._df.items()
                     if t in wanted and now - at < STATS_TTL}
            total = self._total[1] if now - self._total[0] < STATS_TTL else None
        missing = sorted(wanted - set(fresh))
        if missing:
            counts = dict.fromkeys(missing, 0)
            # Terms hold quotes ("can't"): the filter quotes them itself, where
            # MilvusClient.get would not.
            for row in self._call("query", self._alias("terms"), output_fields=["df"],
                                  filter=f"id in [{', '.join(_quote(t) for t in missing)}]"):
                counts[row["id"]] = int(row["df"])
            fresh.update(counts)
        if total is None:
            rows = self._call("query", self._alias("chunks"), filter="",
                              output_fields=["count(*)"])
            total = int(rows[0]["count(*)"]) if rows else 0
        with self._cache_lock:
            for t in missing:
                self._df[t] = (now, fresh[t])
            self._total = (now, total)

        def idf(term: str) -> float:
            df = fresh.get(term, 0)
            return math.log(1.0 + (total - df + 0.5) / (df + 0.5))

        return idf

    # -- writing --------------------------------------------------------------
    def lock(self) -> Any:
        """Writers need no lock: rows are idempotent upserts keyed by path hash,
        sha256 and position, so writers of different files never meet and
        writers of one file write the same rows. A Milvus Lite file is held
        by one process anyway."""
        return contextlib.nullcontext()

    def empty(self) -> MilvusStore:
        """A new generation of collections to rebuild into; the current one
        answers until the rebuild commits."""
        return MilvusStore(self.uri, self.name, self.shape, self.dimension,
                           generation=f"g{time.time_ns()}", directory=self.directory)

    def commit(self, remove: Iterable[str] = (), add: Iterable[Entry] = (),
               demo: bool | None = None) -> MilvusStore:
        """Write `add` (replacing the same paths) and drop `remove`."""
        add = list(add)
        for entry in add:
            _check_sizes(entry)
        if add:
            self.dimension = int(add[0].chunk_vectors.shape[1])
        if demo is not None:
            self.demo = demo
        self._ensure()
        delta = self._write(add)
        gone = [doc_id(path) for path in remove]
        if gone:
            self._call("delete", self._target("documents"), ids=gone)
            expr = f"doc in [{', '.join(_quote(d) for d in gone)}]"
            self._take_postings(expr, delta)
            for kind in PARTS:
                self._call("delete", self._target(kind), filter=expr)
        with _stats_lock:
            self._adjust(delta)
        self._call("upsert", self._target("documents"), [{
            "id": META, "path": "", "source": "", "sha": "", "pad": [0.0] * PAD,
            "info": {"shape": self.shape, "dimension": self.dimension, "demo": self.demo},
        }])
        # One flush, of the chunks (sealed segments search at full speed); the
        # other collections' writes are seen anyway (Strong reads).
        self._call("flush", self._target("chunks"))
        if self._generation:
            self._swap()
        with self._cache_lock:
            self._docs.clear()
            self._df.clear()
            self._total = (0.0, 0)
        return self

    def _write(self, entries: list[Entry]) -> dict[str, int]:
        """Upsert the files' sentences, postings and chunks, then their documents
        rows (which make them count), then delete rows of their old versions.
        Returns the change in each term's document frequency."""
        ids = [doc_id(e.doc.path) for e in entries]
        before = {r["id"]: r["sha"] for r in self._call(
            "get", self._target("documents"), ids=ids, output_fields=["sha"])} if ids else {}
        rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in PARTS}
        for doc, entry in zip(ids, entries):
            self._rows_of(doc, entry, rows)
        for kind in ("sentences", "postings", "chunks"):
            for at in range(0, len(rows[kind]), BATCH):
                self._call("upsert", self._target(kind), rows[kind][at:at + BATCH])
        documents = [{  # the commit point of each file
            "id": doc, "path": e.doc.path, "source": e.doc.source, "sha": e.doc.sha256,
            "pad": [0.0] * PAD,
            "info": {"page_starts": e.doc.page_starts, "sentences": len(e.sentences),
                     "chunks": len(e.chunks), "container": e.doc.container,
                     "blocks": _bounded_blocks(e.doc.blocks),
                     "kinds": structure.counts(e.doc.blocks, e.sentences),
                     "title": naming.title(e.doc)},
        } for doc, e in zip(ids, entries)]
        for at in range(0, len(documents), BATCH):
            self._call("upsert", self._target("documents"), documents[at:at + BATCH])
        delta: dict[str, int] = {}
        for row in rows["postings"]:
            delta[row["term"]] = delta.get(row["term"], 0) + row["df"]
        stale = [f"(doc == {_quote(doc)} and sha != {_quote(e.doc.sha256)})"
                 for doc, e in zip(ids, entries) if doc in before]
        for at in range(0, len(stale), 100):
            expr = " or ".join(stale[at:at + 100])
            self._take_postings(expr, delta)
            for kind in PARTS:
                self._call("delete", self._target(kind), filter=expr)
        return delta

    def _take_postings(self, expr: str, delta: dict[str, int]) -> None:
        """Subtract the postings matching `expr` (rows about to be deleted) from `delta`."""
        for row in self._rows(self._target("postings"), expr, ["term", "df"]):
            delta[row["term"]] = delta.get(row["term"], 0) - int(row["df"])

    def _adjust(self, delta: dict[str, int]) -> None:
        """Add `delta` to the terms' document frequencies (read and written by
        key, so a write costs the same at any corpus size); a term no file
        holds any more is dropped."""
        ordered = sorted(t for t, n in delta.items() if n)
        for at in range(0, len(ordered), 500):
            batch = ordered[at:at + 500]
            listed = f"id in [{', '.join(_quote(t) for t in batch)}]"
            df = {r["id"]: int(r["df"]) for r in self._call(
                "query", self._target("terms"), filter=listed, output_fields=["df"])}
            df = {t: df.get(t, 0) + delta[t] for t in batch}
            kept = [{"id": t, "df": n, "pad": [0.0] * PAD} for t, n in df.items() if n > 0]
            if kept:
                self._call("upsert", self._target("terms"), kept)
            gone = [t for t, n in df.items() if n <= 0]
            if gone:
                self._call("delete", self._target("terms"),
                           filter=f"id in [{', '.join(_quote(t) for t in gone)}]")

    def _rows_of(self, doc: str, entry: Entry, rows: dict[str, list[dict[str, Any]]]) -> None:
        """One file's sentence, posting and chunk rows, appended to `rows`."""
        sha, text = entry.doc.sha256, entry.doc.text
        starts = [s.start for s in entry.sentences]
        rows["sentences"].extend({
            "id": self._key(doc, sha, i), "doc": doc, "sha": sha, "start": s.start, "end": s.end,
            "piece": text[(0 if i == 0 else s.start):(starts[i + 1] if i + 1 < len(starts)
                                                       else len(text))],
            "vector": entry.sentence_vectors[i].tolist(),
        } for i, s in enumerate(entry.sentences))
        first = {(s.start, s.end): i for i, s in enumerate(entry.sentences)}
        df: dict[str, int] = {}
        for i, chunk in enumerate(entry.chunks):
            chunk_terms = terms(chunk.text) + terms(structure.lexical_context(
                structure.sections(entry.doc.blocks, chunk.sentences)))
            for term in set(chunk_terms):
                df[term] = df.get(term, 0) + 1
            rows["chunks"].append({
                "id": self._key(doc, sha, i), "doc": doc, "sha": sha, "path": entry.doc.path,
                "source": entry.doc.source, "position": i, "start": chunk.start, "end": chunk.end,
                "page": -1 if chunk.page is None else chunk.page,
                "first": first[(chunk.sentences[0].start, chunk.sentences[0].end)],
                "count": len(chunk.sentences), "total": len(entry.sentences), "text": chunk.text,
                "terms": _bm25_text(chunk_terms) or "_", "vector": entry.chunk_vectors[i].tolist(),
            })
        rows["postings"].extend({"id": f"{doc}:{term}", "term": term, "doc": doc, "sha": sha,
                              "df": n, "pad": [0.0] * PAD} for term, n in df.items())

    def _ensure(self) -> None:
        """Create the collections (and, on first use, their aliases)."""
        if not self._generation and self._call("has_collection", self._alias("documents")):
            return
        generation = self._generation or f"g{time.time_ns()}"
        for kind in KINDS:
            physical = f"{self.name}_{generation}_{kind}"
            if not self._call("has_collection", physical):
                schema, index = self._schema(kind)
                self._call("create_collection", physical, schema=schema, index_params=index)
            if not self._generation:
                self._call("create_alias", physical, self._alias(kind))

    def _aliased(self) -> dict[str, str | None]:
        """The collection each alias points at (None: no such alias)."""
        out: dict[str, str | None] = {}
        for kind in KINDS:
            try:
                out[kind] = self._call("describe_alias", self._alias(kind))["collection_name"]
            except StoreError:
                out[kind] = None
        return out

    def _repair(self) -> None:
        """Finish a rebuild whose alias swap was cut off (killed after moving
        some of the five aliases). The new generation was complete and flushed
        before its first alias moved, so the swap is finished, not undone; if
        its collections are gone, the aliases go back to the old generation."""
        aliased = self._aliased()
        prefix = f"{self.name}_"
        generations = {name[len(prefix):].rsplit("_", 1)[0]
                       for name in aliased.values() if name and name.startswith(prefix)}
        if len(generations) <= 1 and all(aliased.values()):
            return
        for generation in sorted(generations, key=lambda g: int(g.lstrip("g") or 0),
                                 reverse=True):
            if all(self._call("has_collection", f"{self.name}_{generation}_{kind}")
                   for kind in KINDS):
                logger.warning("finishing the rebuild of %s that was cut off", self.location)
                self._generation = generation
                self._swap()
                return
        raise StoreError(f"{self.location} is damaged (a rebuild was cut off and its "
                         f"collections are gone); rebuild it with: qa index PATH... --rebuild "
                         f"--store {self.spec}")

    def _swap(self) -> None:
        """Point the aliases at this generation and drop the collections of the last."""
        aliased = self._aliased()
        for kind in KINDS:
            alias = self._alias(kind)
            physical = f"{self.name}_{self._generation}_{kind}"
            if aliased[kind] == physical:
                continue
            if aliased[kind]:
                self._call("alter_alias", physical, alias)
            else:
                self._call("create_alias", physical, alias)
        # The generations the aliases pointed at go, whole (after a cut-off swap,
        # some of their collections had already lost their alias). A rebuild
        # killed before its swap leaves collections no alias names; another
        # process may still be writing them, so they stay.
        prefix = f"{self.name}_"
        for generation in {n[len(prefix):].rsplit("_", 1)[0] for n in aliased.values()
                           if n and n.startswith(prefix)} - {self._generation}:
            for kind in KINDS:
                with contextlib.suppress(StoreError):
                    self._call("drop_collection", f"{prefix}{generation}_{kind}")
        self._generation = ""

    def _schema(self, kind: str) -> tuple[Any, Any]:
        from pymilvus import DataType, Function, FunctionType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        index = self.client.prepare_index_params()
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_TEXT)
        if kind == "documents":
            schema.add_field("path", DataType.VARCHAR, max_length=MAX_TEXT)
            schema.add_field("source", DataType.VARCHAR, max_length=MAX_TEXT)
            schema.add_field("sha", DataType.VARCHAR, max_length=64)
            schema.add_field("info", DataType.JSON)
            schema.add_field("pad", DataType.FLOAT_VECTOR, dim=PAD)
            index.add_index("pad", index_type="FLAT", metric_type="L2")
            return schema, index
        if kind == "terms":
            schema.add_field("df", DataType.INT64)
            schema.add_field("pad", DataType.FLOAT_VECTOR, dim=PAD)
            index.add_index("pad", index_type="FLAT", metric_type="L2")
            return schema, index
        schema.add_field("doc", DataType.VARCHAR, max_length=64)
        schema.add_field("sha", DataType.VARCHAR, max_length=64)
        index.add_index("doc", index_type="INVERTED")
        if kind == "postings":
            schema.add_field("term", DataType.VARCHAR, max_length=MAX_TEXT)
            schema.add_field("df", DataType.INT64)
            schema.add_field("pad", DataType.FLOAT_VECTOR, dim=PAD)
            index.add_index("pad", index_type="FLAT", metric_type="L2")
            index.add_index("term", index_type="INVERTED")
            return schema, index
        for field in ("start", "end"):
            schema.add_field(field, DataType.INT64)
        if kind == "sentences":
            schema.add_field("piece", DataType.VARCHAR, max_length=MAX_TEXT)
        else:
            schema.add_field("path", DataType.VARCHAR, max_length=MAX_TEXT)
            schema.add_field("source", DataType.VARCHAR, max_length=MAX_TEXT)
            for field in ("position", "page", "first", "count", "total"):
                schema.add_field(field, DataType.INT64)
            schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)
            schema.add_field("terms", DataType.VARCHAR, max_length=MAX_TEXT,
                             enable_analyzer=True, analyzer_params={"tokenizer": "standard"})
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["terms"],
                                         output_field_names=["sparse"]))
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params=BM25)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
        return schema, index


def _check_sizes(entry: Entry) -> None:
    """Refuse, before writing anything, a file with a text field Milvus cannot hold."""
    longest = max([len(c.text.encode()) for c in entry.chunks] +
                  [len(entry.doc.text[s.start:s.end].encode()) for s in entry.sentences] + [0])
    if longest > MAX_TEXT // 2:  # a chunk's terms and a sentence's trailing gap add to it
        raise QAError(f"{entry.doc.source}: a passage of {longest:,} bytes is longer than "
                      f"Milvus stores in one field ({MAX_TEXT // 2:,}); split the file or use "
                      f"QA_STORE=faiss")
