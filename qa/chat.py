"""Chat presentation: answers as Markdown with citation marks, sources as HTML,
and safe storage of uploaded files. Used by app.py; no Gradio import here."""

from __future__ import annotations

import hashlib
import html
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .answering import Answer
from .documents import SUPPORTED, too_big, unsupported
from .errors import DocumentError

NOT_FOUND_MARK = "⚠️ **Not in the documents.**"


def answer_markdown(answer: Answer) -> str:
    """The chat message: the answer with [n] citation marks, or a visible abstention.

    A generated answer shows which model wrote it; a claim the documents do
    not support is struck through and flagged, never cited. A fallback says why.
    """
    flagged = "".join(f"\n\n~~{c.text}~~ ⚠️ _not supported by the documents_"
                      for c in answer.claims if not c.supported and answer.mode == "generated")
    footer = ""
    if answer.mode == "generated":
        footer = f"\n\n<sub>Written by {answer.model}; each sentence checked against its source.</sub>"
    elif answer.mode == "fallback":
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


def cited_text(answer: Answer, bold: bool = False) -> str:
    """The answer text with its [n] marks (generated answers carry their own)."""
    if not answer.found or answer.mode == "generated" or not answer.sources:
        return answer.text
    marks = " ".join(f"[{n}]" for n in range(1, len(answer.sources) + 1))
    return f"{answer.text} **{marks}**" if bold else f"{answer.text} {marks}"


def sources_html(answer: Answer | None) -> str:
    """The sources panel: each cited passage highlighted inside its context."""
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
        cards.append(
            f"<div class='qa-source'><div class='qa-source-head'>[{n}] "
            f"<b>{html.escape(s.source)}</b> · {where}score {s.score:.2f}</div>"
            f"<p>{html.escape(before)}<mark>{html.escape(s.text)}</mark>"
            f"{html.escape(after)}</p></div>"
        )
    return "\n".join(cards)


def safe_name(name: str) -> str:
    """A file name with no folders, no leading dots and only plain characters."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "upload"
    return f"{stem[:100]}{suffix}"


def store_upload(temp_path: str | Path, original_name: str, folder: Path,
                 max_bytes: int) -> Path:
    """Copy an uploaded file into `folder` under a safe name.

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
    target = folder / name
    if target.exists() and _digest(target) != _digest(source):
        digest = _digest(source)[:8]
        target = folder / f"{Path(name).stem}-{digest}{Path(name).suffix}"
    if target.resolve().parent != folder.resolve():
        raise DocumentError(f"{original_name}: not a valid file name")
    shutil.copyfile(source, target)
    return target


def index_uploads(assistant, files: Iterable[tuple[str | Path, str]],  # type: ignore[no-untyped-def]
                  folder: Path) -> tuple[Any, list[str]]:
    """Store each (received file, original name) under `folder`, then index them.

    Returns:
        (the IndexReport, or None when nothing could be stored; one line per
        file that was refused). A file that was refused or not indexed is not kept.
    """
    stored, errors = [], []
    for received, name in files:
        try:
            stored.append(store_upload(received, name, folder, assistant.settings.max_file_bytes))
        except (DocumentError, OSError) as exc:
            errors.append(str(exc))
    if not stored:
        return None, errors
    report = assistant.add(stored, progress=False)
    for path in stored:
        if any(line.startswith(path.name + ":") for line in report.errors):
            path.unlink(missing_ok=True)
    return report, errors + report.errors


def remove_document(assistant, name: str, folder: Path):  # type: ignore[no-untyped-def]
    """Remove a document by file name or path; our copy of an upload goes too."""
    paths = [d["path"] for d in assistant.documents() if name in (d["source"], d["path"])]
    report = assistant.remove([name])
    if not report.errors:
        for path in paths:
            if folder.resolve() in Path(path).parents:
                Path(path).unlink(missing_ok=True)
    return report


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
