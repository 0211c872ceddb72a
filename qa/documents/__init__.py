"""Load files into plain-text documents: .txt, .md, .html (text.py), .pdf (pdf.py),
.docx, .pptx, .xlsx, .csv (office.py), .eml and .epub (mail.py), and images by
OCR (ocr.py; also scanned PDF pages).

Text is kept exactly as read, so citation offsets point into it. `normalize`
maps look-alike characters (NBSP, curly quotes, dashes) one-to-one, so matching
can use the normalised text with the same offsets.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DocumentError
from .structure import Block, with_references

logger = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx",
             ".csv", ".epub", ".eml", ".png", ".jpg", ".jpeg")

# One character in, one character out: offsets survive normalisation.
_LOOKALIKES = str.maketrans({
    "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u2009": " ",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
})


# Characters that are no part of any word and only cut words apart for a
# program: soft hyphens (browsers and e-books hyphenate with them), zero-width
# spaces, word joiners, byte-order marks. Zero-width (non-)joiners stay: they
# shape Persian and Indic words and emoji.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff\u180e"), None)


def clean(text: str) -> str:
    """`text` in the one normal form documents and questions share: Unicode
    NFC ("école" whether typed composed or decomposed) without invisible
    characters. Applied when a document is read, so stored offsets are exact."""
    text = text.translate(_INVISIBLE)
    return text if unicodedata.is_normalized("NFC", text) else \
        unicodedata.normalize("NFC", text)


def _clean_at(text: str, offsets: Iterable[int]) -> tuple[str, dict[int, int]]:
    """`clean` piece by piece between the given offsets (page starts, block
    bounds), so each still points where it did: old offset -> new offset."""
    cuts = sorted({0, len(text), *(o for o in offsets if 0 <= o <= len(text))})
    parts, moved, at = [], {0: 0}, 0
    for a, b in zip(cuts, cuts[1:]):
        part = clean(text[a:b])
        parts.append(part)
        at += len(part)
        moved[b] = at
    return "".join(parts), moved


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hash of a file's bytes, as `Document.sha256` records it, read in
    blocks ("" when the file cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def normalize(text: str) -> str:
    """Replace look-alike characters one-to-one; `len` is unchanged."""
    return text.translate(_LOOKALIKES)


@dataclass
class Document:
    """A loaded document.

    Attributes:
        text: the full text, as read (offsets point into it).
        source: the display name (file name).
        path: the absolute path it was read from (its identity in an index).
        sha256: hash of the file's bytes, for incremental re-indexing.
        page_starts: for paged files (PDF pages, slides, sheets, chapters), the
            char offset where each page starts.
        ocr_pages: pages (or images) whose text came from OCR.
        blocks: the stretches that are not body text (headings, question
            lines, tables of contents, figure text, captions, references,
            table rows), sorted (structure.py).
        container: for an e-mail attachment, the path of the mail it came in
            ("" for a file of its own). Kept apart from `path`, so a file
            whose name holds "::" is never taken for an attachment.
    """

    text: str
    source: str
    path: str
    sha256: str = ""
    page_starts: list[int] = field(default_factory=list)
    ocr_pages: int = 0
    container: str = ""
    blocks: list[Block] = field(default_factory=list)

    @property
    def file(self) -> str:
        """The file on disk this document was read from."""
        return self.container or self.path

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding `offset`, or None when not paged."""
        if not self.page_starts:
            return None
        return bisect.bisect_right(self.page_starts, offset)


def display_name(path: str | os.PathLike[str]) -> str:
    """A path as one printable line: control characters (a newline in a file
    name) are shown escaped, so an error message stays one line."""
    text = str(path)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def unsupported(path: str | os.PathLike[str]) -> DocumentError:
    """The one message for a file type we do not read."""
    suffix = Path(path).suffix.lower()
    return DocumentError(f"{display_name(path)}: unsupported file type "
                         f"{suffix or '(none)'!r}; supported: {', '.join(SUPPORTED)}")


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path | DocumentError]:
    """Expand files and folders into supported files; yield errors in place.

    Folders are walked without following symlinked folders, so a symlink loop
    cannot hang the walk. Missing paths, broken links, unsupported files and
    folders with no supported file yield a DocumentError instead of stopping
    the walk.
    """
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_symlink() and not path.exists():
            yield DocumentError(f"{display_name(raw)}: broken link "
                                f"(points to {display_name(os.readlink(path))})")
        elif not path.exists():
            yield DocumentError(f"{display_name(raw)}: no such file or folder")
        elif path.is_dir():
            found, skipped = 0, Counter[str]()
            for root, dirs, names in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(n for n in names if not n.startswith(".")):
                    file = Path(root, name)
                    if file.suffix.lower() not in SUPPORTED:
                        skipped[file.suffix.lower() or "(no extension)"] += 1
                    elif file.is_symlink() and not file.exists():
                        yield DocumentError(f"{display_name(file)}: broken link")
                    else:
                        found += 1
                        resolved = file.resolve()
                        if resolved not in seen:
                            seen.add(resolved)
                            yield resolved
            counts = ", ".join(f"{n} {s}" for s, n in skipped.most_common())
            if not found:
                yield DocumentError(f"{display_name(raw)}: no supported files"
                                    + (f" ({counts} skipped)" if counts else " (empty folder)")
                                    + f"; supported: {', '.join(SUPPORTED)}")
            elif counts:  # said, so a file of a type we do not read is never silently missing
                yield DocumentError(f"{display_name(raw)}: {counts} not read (unsupported "
                                    f"type); supported: {', '.join(SUPPORTED)}")
        elif path.suffix.lower() not in SUPPORTED:
            yield unsupported(raw)
        else:
            resolved = path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield resolved


def load(path: str | os.PathLike[str], max_bytes: int = 20 * 1024 * 1024) -> Document:
    """Read one supported file into a Document.

    Raises:
        DocumentError: the file is missing, too big, unsupported, empty,
            binary or undecodable, or a PDF with no text layer.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    name = display_name(path.name)
    if suffix not in SUPPORTED:
        raise unsupported(path.name)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(too_big(name, size, max_bytes))
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{name}: cannot read ({exc.strerror or exc})") from None
    text, page_starts, ocr_pages, blocks = read_bytes(suffix, data, name)
    if not text.strip():
        raise DocumentError(f"{name}: the file has no text")
    return Document(
        text=text,
        source=path.name,
        path=str(path.resolve()),
        sha256=hashlib.sha256(data).hexdigest(),
        page_starts=page_starts,
        ocr_pages=ocr_pages,
        blocks=blocks,
    )


ATTACHED = "::"  # "mail.eml::report.pdf" names an attachment inside a mail (display only)


def load_all(path: str | os.PathLike[str], max_bytes: int = 20 * 1024 * 1024
             ) -> tuple[list[Document], list[DocumentError]]:
    """The file's Document, and for an e-mail one more per attachment of a
    supported type (path "mail.eml::name"), with the attachments' errors.

    Raises:
        DocumentError: the file itself cannot be read.
    """
    doc = load(path, max_bytes)
    if Path(path).suffix.lower() != ".eml":
        return [doc], []
    from .mail import attachments

    docs, errors = [doc], []
    for filename, data in attachments(Path(path).read_bytes()):
        suffix = Path(filename).suffix.lower()
        name = display_name(f"{doc.source}{ATTACHED}{Path(filename).name}")
        if suffix not in SUPPORTED or suffix == ".eml":
            continue  # listed by name in the mail's text
        try:
            if len(data) > max_bytes:
                raise DocumentError(too_big(name, len(data), max_bytes))
            text, starts, ocr_pages, blocks = read_bytes(suffix, data, name)
            if not text.strip():
                raise DocumentError(f"{name}: the file has no text")
        except DocumentError as exc:
            errors.append(exc)
            continue
        docs.append(Document(text=text, source=name,
                             path=f"{doc.path}{ATTACHED}{Path(filename).name}",
                             sha256=hashlib.sha256(data).hexdigest(), page_starts=starts,
                             ocr_pages=ocr_pages, container=doc.path, blocks=blocks))
    return docs, errors


def read_bytes(suffix: str, data: bytes, name: str
               ) -> tuple[str, list[int], int, list[Block]]:
    """Text, page starts, OCR'd pages and structure blocks by file type.

    Raises:
        DocumentError: the file cannot be read. Whatever a reader library
            raises (a damaged table, an image bomb, a field over a parser's
            limit) becomes this one-line reason, so one bad file is skipped
            and never stops a whole run.
    """
    try:
        text, starts, ocr_pages, blocks = _read(suffix, data, name)
        if len(text) > text_bound(len(data)):
            raise DocumentError(f"{name}: its text ({len(text) / 1e6:.1f} M characters) is over "
                                f"{TEXT_GROWTH} characters per byte of the file; split it "
                                "into smaller files")
        blocks = with_references(text, blocks)
        text, moved = _clean_at(text, [*starts, *(o for b in blocks for o in (b.start, b.end))])
        return (text, [moved[s] for s in starts], ocr_pages,
                [Block(moved[b.start], moved[b.end], b.kind, b.level, b.title) for b in blocks
                 if moved[b.end] > moved[b.start]])
    except DocumentError:
        raise
    except MemoryError:
        raise DocumentError(f"{name}: too large to read in memory") from None
    except Exception as exc:  # the safety net: any reader's failure is a skip
        logger.debug("reading %s failed", name, exc_info=True)
        detail = " ".join(str(exc).split())[:120]
        raise DocumentError(f"{name}: cannot read this file ({type(exc).__name__}"
                            + (f": {detail}" if detail else "") + ")") from None


# The most text a reader may return: TEXT_GROWTH characters for each byte of
# the file (zipped formats hold more text than their size, and a table's rows
# repeat its headers), and at least MIN_TEXT_BOUND.
TEXT_GROWTH = 32
MIN_TEXT_BOUND = 1_000_000


def text_bound(size: int) -> int:
    """The most characters a file of `size` bytes may be read as."""
    return max(MIN_TEXT_BOUND, TEXT_GROWTH * size)


def _read(suffix: str, data: bytes, name: str) -> tuple[str, list[int], int, list[Block]]:
    """Text, page starts, OCR'd pages and blocks by file type; each reader has its module."""
    if suffix == ".pdf":
        from .pdf import pdf_text

        return pdf_text(data, name)
    if suffix in (".png", ".jpg", ".jpeg"):
        from .ocr import image_text

        return (*image_text(data, name), 1, [])
    if suffix in (".docx", ".pptx", ".xlsx"):
        from . import office

        text, starts, blocks = {".docx": office.docx_text, ".pptx": office.pptx_text,
                                 ".xlsx": office.xlsx_text}[suffix](data, name)
        return text, starts, 0, blocks
    if suffix in (".eml", ".epub"):
        from . import mail

        if suffix == ".eml":
            return (*mail.eml_text(data, name), 0, [])
        text, starts, blocks = mail.epub_text(data, name)
        return text, starts, 0, blocks
    from .text import decode, html_text, markdown

    text = decode(data, name)
    if suffix in (".html", ".htm"):
        text, blocks = html_text(text)
        return text, [], 0, blocks
    if suffix == ".csv":
        from .office import csv_text

        text, _, blocks = csv_text(text, name)
        return text, [], 0, blocks
    text, blocks = markdown(text)
    return text, [], 0, blocks


def too_big(name: str, size: int, max_bytes: int) -> str:
    return f"{name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit"
