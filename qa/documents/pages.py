"""A PDF page as a picture, with a cited passage's boxes highlighted (pypdfium2).

The passage is found on the page by its letters and digits only, since the
indexed text joined wrapped lines, dropped soft hyphens and spelled out
ligatures; each matched character keeps its PDFium index, whose boxes are
then painted. A passage that cannot be found (an OCR page) is not marked.
"""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

from ..errors import DocumentError
from .pdf import _LIGATURES, PDFIUM, bounded_scale

HIGHLIGHT = (255, 214, 0, 110)  # translucent yellow, as the chat's <mark>


def render_page(path: str | Path, page: int, passage: str = "", scale: float = 1.5,
                image_format: str = "PNG") -> bytes:
    """Page `page` (1-based) of the PDF at `path` as PNG (or JPEG) bytes, with
    `passage` highlighted where it is found on the page.

    Raises:
        DocumentError: not a readable PDF, or no such page.
    """
    from PIL import Image, ImageDraw

    try:
        with PDFIUM:
            image, boxes, height, scale = _draw(path, page, passage, scale)
    except DocumentError:
        raise
    except (MemoryError, ValueError, OSError, Image.DecompressionBombError) as exc:
        raise DocumentError(f"{Path(path).name}: page {page} cannot be drawn "
                            f"({type(exc).__name__})") from None
    if boxes:
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for left, bottom, right, top in boxes:
            draw.rectangle([left * scale, (height - top) * scale,
                            right * scale, (height - bottom) * scale], fill=HIGHLIGHT)
        image = Image.alpha_composite(image, layer)
    out = io.BytesIO()
    image.convert("RGB").save(out, format=image_format, **(
        {"quality": 80} if image_format.upper() == "JPEG" else {"optimize": True}))
    return out.getvalue()


def _draw(path: str | Path, page: int, passage: str, scale: float):  # type: ignore[no-untyped-def]
    """The page as a PIL image, the passage's boxes, the page height and the
    scale used (bounded: see pdf.MAX_PIXELS). Call with PDFIUM held."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError) as exc:
        raise DocumentError(f"{Path(path).name}: cannot open this PDF ({exc})") from None
    try:
        if not 1 <= page <= len(document):
            raise DocumentError(f"{Path(path).name} has pages 1 to {len(document)}, "
                                f"not {page}")
        pdf_page = document[page - 1]
        try:
            width, height = pdf_page.get_size()
            scale = bounded_scale(width, height, scale)
            bitmap = pdf_page.render(scale=scale)
            try:
                image = bitmap.to_pil().convert("RGBA")  # a copy: the bitmap can go
            finally:
                bitmap.close()
            boxes = _boxes(pdf_page, passage) if passage.strip() else []
        finally:
            pdf_page.close()
    except pdfium.PdfiumError as exc:
        raise DocumentError(f"{Path(path).name}: page {page} cannot be drawn ({exc})") \
            from None
    finally:
        document.close()
    return image, boxes, height, scale


def _boxes(pdf_page, passage: str) -> list[tuple[float, float, float, float]]:  # type: ignore[no-untyped-def]
    """PDF-space boxes (left, bottom, right, top) of `passage` on the page."""
    textpage = pdf_page.get_textpage()
    try:
        raw = textpage.get_text_range()
        letters, where = _letters(raw)
        wanted, _ = _letters(passage)
        at = letters.find(wanted) if wanted else -1
        if at < 0:  # e.g. the passage runs onto the next page: mark what is here
            head = wanted[:60]
            at = letters.find(head) if len(head) >= 20 else -1
            if at < 0:
                return []
            wanted = letters[at:at + len(wanted)]
        first, last = where[at], where[min(at + len(wanted), len(where)) - 1]
        count = textpage.count_rects(first, last - first + 1)
        return [textpage.get_rect(i) for i in range(count)]
    finally:
        textpage.close()


def _letters(text: str) -> tuple[str, list[int]]:
    """The text's letters and digits, lower-cased (ligatures spelled out), and
    for each the PDFium index of the character it came from. PDFium counts in
    UTF-16 units: a character outside the Basic Multilingual Plane (the
    math italics of a formula, 𝑥) takes two indexes, one code point in Python.
    Accents are dropped (a PDF may hold "é" as "e" and a combining mark)."""
    out, where, extra = [], [], 0
    for index, char in enumerate(text):
        # Decomposed, so "é" matches "e" and a combining accent PDFium keeps apart.
        for letter in unicodedata.normalize("NFKD", char.translate(_LIGATURES)).lower():
            if letter.isalnum():
                out.append(letter)
                where.append(index + extra)
        extra += ord(char) > 0xFFFF
    return "".join(out), where
