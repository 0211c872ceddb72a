"""Stores: where chunks, sentences, their vectors and term statistics live.

Two implementations with one interface, chosen by QA_STORE / --store / store=:

    faiss                         the default: FAISS + JSONL in the index folder (faiss.py)
    milvus:///abs/path/file.db    Milvus Lite, one local file (milvus.py)
    milvus://host:19530           a Milvus server or cluster (token: QA_MILVUS_TOKEN)
    milvus+https://host[:port]    the same over TLS (Zilliz Cloud, for example)

What the assistant uses of a store:

    location                  where it is, for messages
    demo                      holds only the bundled demo article
    shared                    other machines write here too (Milvus)
    files()                   {path: {source, sha256, chunks}}
    count()                   chunks held
    search(queries, k, ...)   -> Found(records, hits per query, idf)
    containing(snippet)       paths of documents whose text holds the snippet
    known_documents()         documents to compare new ones with (near duplicates)
    latest()                  the store as another process may have left it
    lock()                    the writers' lock (a context manager)
    commit(remove, add, demo) -> the store with the change written
    empty()                   a store to rebuild into; the old one stays until commit
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from ..errors import QAError
from .faiss import IndexOptions, Store, build_faiss, check_folder, demo_only
from .records import Entry, Found, Records, TextWindow

__all__ = ["Entry", "Found", "IndexOptions", "Records", "Store", "TextWindow", "build_faiss",
           "check_folder", "collection_name", "demo_only", "milvus_uri", "open_store", "new_store"]


def milvus_uri(spec: str) -> str | None:
    """The MilvusClient uri for a QA_STORE value; None for "faiss".

    Raises:
        QAError: a value that names no store, or a Milvus Lite path that is not absolute.
    """
    spec = spec.strip()
    if spec in ("", "faiss"):
        return None
    if spec.startswith("milvus:///"):
        path = spec[len("milvus://"):]
        if not path.endswith(".db"):
            raise QAError(f"QA_STORE={spec}: a Milvus Lite file must end in .db, "
                          f"e.g. milvus:///home/me/qa.db")
        return path
    for scheme, replacement in (("milvus+https://", "https://"), ("milvus+http://", "http://"),
                                ("milvus://", "http://")):
        if spec.startswith(scheme) and len(spec) > len(scheme):
            return replacement + spec[len(scheme):]
    raise QAError(f"QA_STORE={spec!r} is not a store; use faiss, milvus:///abs/path/file.db, "
                  f"milvus://host:19530 or milvus+https://host")


def collection_name(index_dir: Path, given: str = "") -> str:
    """QA_COLLECTION, or a name derived from the index folder
    ("qa_<folder name>_<hash of its path>")."""
    if given:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,199}", given):
            raise QAError(f"QA_COLLECTION={given!r}: use letters, digits and _ "
                          f"(not starting with a digit), at most 200 characters")
        return given
    slug = re.sub(r"[^A-Za-z0-9_]", "_", index_dir.name)[:40] or "index"
    digest = hashlib.sha1(str(index_dir.expanduser().resolve()).encode()).hexdigest()[:8]
    return f"qa_{slug}_{digest}"


def open_store(settings: Any, directory: Path, options: IndexOptions) -> Any:
    """The existing store the settings name.

    Raises:
        IndexNotFoundError: nothing is indexed there yet.
        IndexMismatchError: built with other settings, or damaged.
        QAError: the store cannot be reached.
    """
    uri = milvus_uri(settings.store)
    if uri is None:
        return Store.load(directory, settings.index_shape(), options)
    from .milvus import MilvusStore

    return MilvusStore.open(uri, collection_name(directory, settings.collection),
                            settings.index_shape(), directory)


def new_store(settings: Any, directory: Path, options: IndexOptions) -> Any:
    """An empty store (nothing is written until the first commit).

    Raises:
        QAError: the folder holds other files, or the store cannot be reached.
    """
    uri = milvus_uri(settings.store)
    if uri is None:
        check_folder(directory)
        return Store(directory, settings.index_shape(), 0, options)
    from .milvus import MilvusStore

    return MilvusStore.create(uri, collection_name(directory, settings.collection),
                              settings.index_shape(), directory)
