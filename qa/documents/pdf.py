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
from . import layout
from .structure import Block, Builder

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


def pdf_text(data: bytes, name: str, max_pages: int = 1_000
             ) -> tuple[str, list[int], int, list[Block]]:
    """The cleaned text of a PDF, the offset where each page starts, the
    number of pages read by OCR, and its structure (layout.py: headings,
    captions, figure text, tables of contents, references).

    Raises:
        DocumentError: encrypted, damaged, too many pages, or no text layer.
    """
    pages, heights = _raw_pages(data, name, max_pages)
    repeated = _running_lines([[line.text for line in lines] for lines in pages])
    for lines in pages:
        edges = _edges([line.text for line in lines])
        lines[:] = [line for i, line in enumerate(lines)
                    if not (i in edges and _mask(line.text) in repeated)]
    runs = layout.classify(pages)
    layout.with_tables(data, pages, runs, heights)
    blank = [i for i, page in enumerate(runs) if not any(r.text(_join).strip() for r in page)]
    ocr = dict(zip(blank, _ocr_pages(data, blank, name))) if blank else {}
    out = Builder()
    for i, page in enumerate(runs):
        out.page()
        if i in ocr:  # scanned pages: no text layer, so read them with OCR
            out.add(ocr[i])
            continue
        for run in page:
            out.add(run.text(_join), run.kind, run.level)
    if not out.text.strip():
        raise DocumentError(f"{name}: no text found: the PDF has no text layer and OCR "
                            f"read nothing")
    return out.text, out.page_starts, len(blank), out.blocks


def _raw_pages(data: bytes, name: str, max_pages: int
               ) -> tuple[list[list[layout.Line]], list[float]]:
    with PDFIUM:
        return _read_pages(data, name, max_pages)


def _read_pages(data: bytes, name: str, max_pages: int
                ) -> tuple[list[list[layout.Line]], list[float]]:
    """Each page's lines, and each page's height (points)."""
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
        out, heights = [], []
        for page in document:
            textpage = page.get_textpage()
            out.append(layout.lines(page, textpage, _lines(textpage.get_text_range())))
            heights.append(page.get_height())
            textpage.close()
            page.close()
        return out, heights
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


def _lines(raw: str) -> list[tuple[str, int, int]]:
    """The page's lines, cleaned, each with the PDFium index of its first
    character and its number of indexes (PDFium counts UTF-16 units: a
    character outside the BMP takes two)."""
    out: list[tuple[str, int, int]] = []
    index = 0
    for match in re.finditer(r"([^\r\n]*)(\r\n|\r|\n|$)", raw):
        if not match.group(0) and match.start() == len(raw) and out:
            break
        line = match.group(1)
        out.append(("".join(ch for ch in line if ch == "\t" or ch >= " ").translate(_LIGATURES),
                    index, len(line.encode("utf-16-le")) // 2))
        index += len(match.group(0).encode("utf-16-le")) // 2
    return out


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
