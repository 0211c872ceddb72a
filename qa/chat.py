"""Chat presentation: answers as Markdown with citation marks, sources as HTML,
and safe storage of uploaded files. Used by app.py; no Gradio import here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .answering import Answer, Source
from .documents import SUPPORTED, file_sha256, too_big, unsupported
from .errors import DocumentError

NOT_FOUND_MARK = "⚠️ **Not in the documents.**"


MAX_SUGGESTIONS = 5


def suggestions(documents: list[dict[str, Any]], demo: list[str]) -> list[str]:
    """Example questions about the documents indexed now: `demo` (questions
    about the bundled article) while it is the only document, else a summary
    of each of the first documents and a list of the first one's dates; none
    when nothing is indexed."""
    if not documents:
        return []
    from .assistant import BUNDLED

    if all(Path(d["path"]) == BUNDLED for d in documents):
        return list(demo)
    names = [d["source"] for d in documents if Path(d["path"]) != BUNDLED]
    out = [f"Summarize {name}" for name in names[:3]]
    out.append(f"List all the dates in {names[0]}")
    if len(names) > 1:
        out.append("What are the main findings?")
    return out[:MAX_SUGGESTIONS]


def answer_markdown(answer: Answer) -> str:
    """The chat message: the answer with [n] citation marks, or a visible abstention.

    A generated answer shows which model wrote it; a claim the documents do
    not support is struck through and flagged, never cited. A fallback says why.
    """
    flagged = "".join(f"\n\n~~{c.text}~~ ⚠️ _not supported by the documents_"
                      for c in answer.claims if not c.supported and answer.mode == "generated")
    footer = ""
    if answer.mode == "generated":
        footer = f"\n\n<sub>Written by {answer.model}; each sentence checked against its " \
                 f"source{f' ({answer.note})' if answer.note else ''}.</sub>"
    elif answer.note:  # why it fell back, or why it could not read the question
        footer = f"\n\n<sub>ℹ️ {answer.note}</sub>"
    if not answer.found:
        return f"{NOT_FOUND_MARK} _{answer.text}_{footer}"
    body = cited_text(answer, bold=True)
    cites = "\n".join(
        f"{n}. `{s.source}`" + (f", page {s.page}" if s.page else "")
        + f", characters {s.start}–{s.end}"
        for n, s in enumerate(answer.sources, 1)
    )
    return f"{body}{flagged}\n\n<sub>Sources:</sub>\n\n{cites}{footer}"


def cited_text(answer: Answer, bold: bool = False, marks: bool = True) -> str:
    """The answer text with its [n] marks (generated answers carry their own;
    `marks=False` leaves them off an extractive answer, for the terminal).

    A quoted passage's own reference marks ("[7]") become "(ref. 7)", so that
    every [n] in a reply is ours; a passage that starts mid-sentence gets "…".
    With `bold`, the short answer (`Answer.span`) is bold too.
    """
    if not answer.found or answer.mode == "generated" or not answer.sources:
        return answer.text
    lines = answer.text.split("\n")
    bullets = [i for i, line in enumerate(lines) if line.startswith("- ")]
    if len(answer.sources) > 1 and len(bullets) == len(answer.sources):
        # a digest (its title and section lines between) or a "where" list
        own = [_OWN_MARK.sub(lambda m: f"(ref. {m.group(1)})", line) for line in lines]
        if not marks:
            return "\n".join(own)
        for n, i in enumerate(bullets, 1):
            own[i] = f"{own[i]} **[{n}]**" if bold else f"{own[i]} [{n}]"
        return "\n".join(own)
    if answer.items is not None:  # a table of values: each row names its document and page
        return answer.text
    text = answer.text
    if bold and answer.span:
        start, end = answer.span
        text = f"{text[:start]}**{text[start:end]}**{text[end:]}"
    text = _OWN_MARK.sub(lambda m: f"(ref. {m.group(1)})", text)
    if text[:1].islower():
        text = "…" + text
    if not marks:
        return text
    cites = " ".join(f"[{n}]" for n in range(1, len(answer.sources) + 1))
    return f"{text} **{cites}**" if bold else f"{text} {cites}"


_OWN_MARK = re.compile(r"\[(\d+(?:\s*[,–-]\s*\d+)*)\]")


def sources_html(answer: Answer | None, links: PageLinks | None = None,
                 collection: str | None = None) -> str:
    """The sources panel: each cited passage highlighted inside its context.

    With `links`, a PDF source gets "See it on page N": its page as a picture,
    the passage marked, drawn only when the reader opens it.
    """
    if answer is None:
        return "<p class='qa-empty'>Ask a question to see where the answer comes from.</p>"
    if not answer.found:
        return ("<p class='qa-empty'>No passage in the documents answers this question, "
                "so nothing is cited.</p>")
    cards = []
    for n, s in enumerate(answer.sources, 1):
        before = s.context[:max(0, s.start - s.context_start)]
        after = s.context[max(0, s.end - s.context_start):]
        where = f"page {s.page} · " if s.page else ""
        view = _page_view(s, links, collection) if links else ""
        cards.append(
            f"<div class='qa-source'><div class='qa-source-head'>[{n}] "
            f"<b>{html.escape(s.source)}</b> · {where}score {s.score:.2f}</div>"
            f"<p>{html.escape(before)}<mark>{html.escape(s.text)}</mark>"
            f"{html.escape(after)}</p>{view}</div>"
        )
    return "\n".join(cards)


def _page_view(source: Source, links: PageLinks, collection: str | None) -> str:
    """For a PDF source: "See it on page N", a picture the browser fetches only
    once the reader opens it (a lazy image inside closed <details>)."""
    if not source.page or Path(source.path).suffix.lower() != ".pdf":
        return ""
    url = html.escape(links.url(source.path, source.page, source.start, source.end,
                                collection))
    return (f"<details class='qa-page'><summary>See it on page "
            f"{source.page}</summary><img loading='lazy' alt='page {source.page} of "
            f"{html.escape(source.source)}, the passage marked' "
            f"style='width:100%' src='{url}'></details>")


class PageLinks:
    """Signed links to page pictures of cited sources.

    The chat's sources panel carries them and the page route draws them: the
    signature (a key made per process) is the credential, so a picture is
    reachable only through a link the server wrote into an answer its reader
    was allowed to see, and the chat's login never has to reach /v1. A link
    names the document by its id (never its path on the server) and expires
    after `lifetime` seconds.
    """

    ROUTE = "/v1/page-views/"
    LIFETIME = 24 * 3600

    def __init__(self, key: bytes | None = None, lifetime: int = LIFETIME) -> None:
        self._key = key or os.urandom(32)
        self.lifetime = lifetime

    def url(self, path: str, page: int, start: int, end: int,
            collection: str | None = None) -> str:
        from .assistant import document_id

        expires = int(time.time()) + self.lifetime
        payload = json.dumps([document_id(path), page, start, end, collection or "", expires],
                             ensure_ascii=False).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{self.ROUTE}{body}.{self._sign(body)}.jpg"

    def open(self, token: str) -> tuple[str, int, int, int, str | None]:
        """(document id, page, start, end, collection) of a link this process
        signed that has not expired.

        Raises:
            ValueError: not such a link (bad form, bad signature, or expired).
        """
        body, _, rest = token.partition(".")
        signature = rest.removesuffix(".jpg")
        if not body or not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise ValueError("not a page link of this server")
        doc, page, start, end, collection, expires = json.loads(
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if time.time() > expires:
            raise ValueError("the page link has expired")
        return str(doc), int(page), int(start), int(end), collection or None

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:32]


def safe_name(name: str) -> str:
    """A file name with no folders, no leading dots and only plain characters."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "upload"
    return f"{stem[:100]}{suffix}"


class Uploads:
    """The files this app stored in its uploads folder, and which indexes hold each.

    Kept in `.qa-uploads.json` in the folder. Remove deletes a file only when
    it is recorded here (the app put it there, never a user's own file that
    happens to sit in a folder of that name) and no index holds it any more.
    """

    RECORD = ".qa-uploads.json"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._path = self.folder / self.RECORD

    def _lock(self) -> Any:
        from filelock import FileLock

        self.folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self._path) + ".lock")

    def _read(self) -> dict[str, list[str]]:
        try:
            return dict(json.loads(self._path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def _write(self, record: dict[str, list[str]]) -> None:
        temp = self._path.with_suffix(".tmp")
        temp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temp, self._path)

    def ours(self, path: Path) -> bool:
        return str(path.resolve()) in self._read()

    def keep(self, path: Path, index: str) -> None:
        """Record that `index` holds the stored file `path`."""
        with self._lock():
            record = self._read()
            holders = record.setdefault(str(path.resolve()), [])
            if index not in holders:
                holders.append(index)
            self._write(record)

    def release(self, path: str, index: str, held_elsewhere: Callable[[str], bool]) -> bool:
        """`index` no longer holds `path`; delete our copy when nothing does.

        Returns:
            whether the file was deleted.
        """
        with self._lock():
            record = self._read()
            holders = record.get(path)
            if holders is None:
                return False  # not ours: never deleted
            if index in holders:
                holders.remove(index)
            if holders or held_elsewhere(path):
                self._write(record)
                return False
            del record[path]
            Path(path).unlink(missing_ok=True)
            self._write(record)
            return True


def store_upload(temp_path: str | Path, original_name: str, folder: Path,
                 max_bytes: int, uploads: Uploads | None = None) -> Path:
    """Copy an uploaded file into `folder` under a safe name.

    A name taken by another file (or by a file the app did not store) gets
    the upload's hash added, so no file is ever overwritten.

    Raises:
        DocumentError: wrong type or over the size limit (nothing is copied).
    """
    source = Path(temp_path)
    name = safe_name(original_name)
    if Path(name).suffix not in SUPPORTED:
        raise unsupported(name)
    size = source.stat().st_size
    if size > max_bytes:
        raise DocumentError(too_big(name, size, max_bytes))
    folder.mkdir(parents=True, exist_ok=True)
    uploads = uploads or Uploads(folder)
    digest = file_sha256(source)
    incoming = folder / f".incoming-{os.getpid()}-{uuid.uuid4().hex}"
    shutil.copyfile(source, incoming)  # the slow copy, outside the lock
    try:
        # Choosing a free name and taking it is one step, across threads and
        # processes: under the folder's lock, and by a hard link that fails
        # rather than replace a file that appeared meanwhile.
        with uploads._lock():
            for candidate in (name, f"{Path(name).stem}-{digest[:8]}{Path(name).suffix}",
                              f"{Path(name).stem}-{digest[:24]}{Path(name).suffix}"):
                target = folder / candidate
                if target.resolve().parent != folder.resolve():
                    raise DocumentError(f"{original_name}: not a valid file name")
                if _take(incoming, target):
                    return target
                if uploads.ours(target) and file_sha256(target) == digest:
                    return target  # these very bytes, stored before
    finally:
        incoming.unlink(missing_ok=True)
    raise DocumentError(f"{original_name}: a file of this name is already in {folder}")


def _take(incoming: Path, target: Path) -> bool:
    """Give `incoming`'s bytes the name `target` unless that name exists."""
    try:
        os.link(incoming, target)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive create, then copy
        try:
            with open(target, "xb") as out, open(incoming, "rb") as data:
                shutil.copyfileobj(data, out)
            return True
        except FileExistsError:
            return False


def index_uploads(assistant, files: Iterable[tuple[str | Path, str]],  # type: ignore[no-untyped-def]
                  folder: Path, progress: Callable[[str, float, str], None] | None = None
                  ) -> tuple[Any, list[str]]:
    """Store each (received file, original name) under `folder`, then index them;
    `progress` is told each stage (reading, embedding, saving) as in `Assistant.add`.

    Returns:
        (the IndexReport, or None when nothing could be stored; one line per
        file that was refused). A file that was refused or not indexed is not kept.
    """
    uploads = Uploads(folder)
    stored, errors = [], []
    for received, name in files:
        try:
            stored.append(store_upload(received, name, folder,
                                       assistant.settings.max_file_bytes, uploads))
        except (DocumentError, OSError) as exc:
            errors.append(str(exc))
    if not stored:
        return None, errors
    try:
        report = assistant.add(stored, progress=progress or False)
    except BaseException:
        for path in stored:
            if not uploads.ours(path):
                path.unlink(missing_ok=True)
        raise
    for path in stored:
        if any(line.startswith(path.name + ":") for line in report.errors):
            if not uploads.ours(path):
                path.unlink(missing_ok=True)
        else:
            uploads.keep(path, assistant.store.location)
    return report, errors + report.errors


def remove_document(assistant, name: str, folder: Path,  # type: ignore[no-untyped-def]
                    held_elsewhere: Callable[[str], bool] = lambda path: False):
    """Remove a document by file name or path. The app's own copy of an upload
    is deleted too, once no index holds it (`held_elsewhere(path)` asks the
    other indexes); a file the app did not store is never deleted."""
    paths = [d["path"] for d in assistant.documents() if name in (d["id"], d["source"], d["path"])]
    report = assistant.remove([name])
    if not report.errors:
        uploads = Uploads(folder)
        for path in paths:
            uploads.release(path, assistant.store.location, held_elsewhere)
    return report
