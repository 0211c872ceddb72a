"""PDF text with pypdfium2 (PDFium, Apache-2.0/BSD), cleaned for reading and citing.

PDFium was measured against pypdf on both LlamaIndex PDFs
(benchmarks/pdf_retrieval.py): 17x faster (0.18 s against 3.1 s for 39
pages) and it marks what pypdf loses: a soft hyphen where a word was broken
at a line end, and a trailing space on lines that wrap inside a paragraph.
The cleaning:
- lines that start or end at least half of the pages (digits masked, so
  "page 3 of 9" repeats) are running headers and footers, and are dropped;
- a word broken by a soft hyphen is joined; a wrapped line joins the next with
  a space; other line ends stay line ends;
- ligatures (fi, fl, ff, ...) become their letters;
- a page without a text layer (scanned) is read by OCR (ocr.py).
The stored text is the cleaned text, so citation offsets are exact into it.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter

from ..errors import DocumentError

logger = logging.getLogger(__name__)

# PDFium is not thread-safe, "not even with different documents": every call
# into it (reading text, rendering pages for OCR or for the page view) holds
# this lock, so at most one is in flight per process.
PDFIUM = threading.RLock()
# The most pixels any page picture may have (a page of 10,000 points at scale
# 1 would be 100 million): larger pages are drawn at a smaller scale.
MAX_PIXELS = 4_000_000


def bounded_scale(width: float, height: float, scale: float,
                  max_pixels: int = MAX_PIXELS) -> float:
    """`scale`, or less, so that a page of width x height points stays within
    `max_pixels` when drawn."""
    area = max(width, 1.0) * max(height, 1.0) * scale * scale
    return scale if area <= max_pixels else scale * math.sqrt(max_pixels / area)

_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi",
                            "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"})
_SOFT_HYPHEN = "\ufffe"  # PDFium's mark for a hyphen the typesetter added at a line end
_EDGE = 2  # lines at the top and at the bottom of a page that may be a header or footer


def pdf_text(data: bytes, name: str, max_pages: int = 1_000) -> tuple[str, list[int], int]:
    """The cleaned text of a PDF, the offset where each page starts, and the
    number of pages read by OCR.

    Raises:
        DocumentError: encrypted, damaged, too many pages, or no text layer.
    """
    pages = [_lines(raw) for raw in _raw_pages(data, name, max_pages)]
    repeated = _running_lines(pages)
    texts = [_join([line for i, line in enumerate(lines)
                    if not (i in _edges(lines) and _mask(line) in repeated)])
             for lines in pages]
    blank = [i for i, text in enumerate(texts) if not text.strip()]
    if blank:  # scanned pages: no text layer, so read them with OCR
        for i, text in zip(blank, _ocr_pages(data, blank, name)):
            texts[i] = text
    if not any(text.strip() for text in texts):
        raise DocumentError(f"{name}: no text found: the PDF has no text layer and OCR "
                            f"read nothing")
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + 2
    return "\n\n".join(texts), starts, len(blank)


def _raw_pages(data: bytes, name: str, max_pages: int) -> list[str]:
    with PDFIUM:
        return _read_pages(data, name, max_pages)


def _read_pages(data: bytes, name: str, max_pages: int) -> list[str]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DocumentError(f"{name}: the PDF is encrypted; decrypt it and add it again") \
                from None
        raise DocumentError(f"{name}: cannot read this PDF ({exc})") from None
    try:
        if len(document) > max_pages:
            raise DocumentError(f"{name}: {len(document):,} pages is over the "
                                f"{max_pages:,}-page limit")
        out = []
        for page in document:
            textpage = page.get_textpage()
            out.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return out
    except DocumentError:
        raise
    except Exception as exc:  # PDFium raises on some damaged pages
        raise DocumentError(f"{name}: cannot read this PDF ({type(exc).__name__})") from None
    finally:
        document.close()


def _ocr_pages(data: bytes, pages: list[int], name: str) -> list[str]:
    """OCR text of the given pages, rendered at ocr.SCALE."""
    import time

    import pypdfium2 as pdfium

    from . import ocr

    with PDFIUM:
        document = pdfium.PdfDocument(data)
    out, started = [], time.perf_counter()
    try:
        for n, index in enumerate(pages, 1):
            with PDFIUM:  # the page is drawn under the lock; OCR runs outside it
                page = document[index]
                width, height = page.get_size()
                scale = bounded_scale(width, height, ocr.SCALE)
                bitmap = page.render(scale=scale)
                pixels = bitmap.to_numpy().copy()
                bitmap.close()
                page.close()
            out.append(ocr.read(pixels))
            logger.info("%s: OCR page %d (%d of %d)", name, index + 1, n, len(pages))
    finally:
        with PDFIUM:
            document.close()
    logger.info("%s: OCR read %d pages in %.1f s", name, len(pages),
                time.perf_counter() - started)
    return out


def _lines(raw: str) -> list[str]:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").translate(_LIGATURES)
    text = "".join(ch for ch in text if ch in "\n\t" or ch >= " ")
    return text.split("\n")


def _mask(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()))


def _edges(lines: list[str]) -> set[int]:
    """Indexes of the first and last non-empty lines of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    edge = _EDGE if len(filled) > 2 * _EDGE + 1 else 1  # a short page keeps its body
    return set(filled[:edge] + filled[-edge:])


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Masked lines at the top or bottom of at least half the pages (3 or more)."""
    if len(pages) < 3:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        seen.update({_mask(lines[i]) for i in _edges(lines)})
    return {line for line, n in seen.items() if n >= max(3, len(pages) / 2)}


def _join(lines: list[str]) -> str:
    """Lines back into text: soft hyphens joined, wrapped lines joined with a space."""
    out: list[str] = []
    for line in lines:
        if line.endswith(_SOFT_HYPHEN):
            out.append(line[:-1])
        elif line.endswith(" ") and line.strip():
            out.append(line.rstrip() + " ")
        else:
            out.append(line.rstrip() + "\n")
    return "".join(out).replace(_SOFT_HYPHEN, "").strip()
