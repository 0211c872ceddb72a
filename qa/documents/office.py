"""Office files and tables: .docx (python-docx), .pptx (python-pptx, a page per
slide), .xlsx (openpyxl, a page per sheet) and .csv (rows as text).

Each returns the document text and the offsets where its pages start. Zip
containers are checked before parsing: a password-protected file (an OLE
container, not a zip), a zip bomb (more than MAX_UNZIPPED bytes inside) and
a small file holding more markup than the parser can read in seconds (over
MAX_MARKUP bytes of XML/XHTML, told by name or by content, so a main part
named ".bin" counts too) get a one-line reason.
"""

from __future__ import annotations

import csv
import io
import zipfile

from ..errors import DocumentError
from .structure import Block, Builder, titles_only
from .text import table_rows

MAX_UNZIPPED = 200 * 1024 * 1024  # bytes a zip container may expand to
# XML/XHTML bytes a .docx, .pptx or .epub may hold: python-docx read 10 MB of
# tiny paragraphs in 8 s and 330 MB here (60 MB took 337 s and 1.35 GB); a
# 1,000-page plain-text document is about 10 MB of markup.
MAX_MARKUP = 10 * 1024 * 1024
MAX_MEMBERS = 20_000  # parts in one container (each part's first bytes are read)
MAX_SHEET_MARKUP = 100 * 1024 * 1024  # .xlsx is read streaming, rows and cells capped
MAX_ROWS = 200_000  # rows read from a table, in all sheets
MAX_CELLS = 2_000_000  # cells read from a workbook, in all sheets
_MARKUP = (".xml", ".xhtml", ".html", ".htm")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted Office files are OLE, not zip


def check_zip(data: bytes, name: str, max_markup: int = MAX_MARKUP) -> None:
    """Raises DocumentError for a protected, broken or over-large zip container.

    The sizes checked are the ones the archive declares; zipfile refuses to
    read a member past its declared size, so a lying header cannot get past.
    """
    if data.startswith(_OLE):
        raise DocumentError(f"{name}: the file is password-protected (or an old binary "
                            f"Office format); save it unprotected as .docx/.pptx/.xlsx")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise DocumentError(f"{name}: holds {len(members):,} parts, over the "
                                    f"{MAX_MEMBERS:,}-part limit")
            total = sum(info.file_size for info in members)
            if total > MAX_UNZIPPED:
                raise DocumentError(f"{name}: expands to {total / 1e6:,.0f} MB, over the "
                                    f"{MAX_UNZIPPED / 1e6:.0f} MB limit (a zip bomb?)")
            markup = sum(i.file_size for i in members if _is_markup(archive, i))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise DocumentError(f"{name}: not a valid Office file (not a zip archive)") from None
    if markup > max_markup:
        raise DocumentError(f"{name}: holds {markup / 1e6:,.1f} MB of text markup, over the "
                            f"{max_markup / 1e6:.0f} MB limit; split the document")


def _is_markup(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a part is XML/XHTML, by its first bytes as well as its name: a
    parser reads the parts the package's relationships name, whatever they are
    called ("document.bin" is read as the main part if the package says so)."""
    if info.filename.lower().endswith(_MARKUP):
        return True
    if info.is_dir() or info.file_size == 0:
        return False
    with archive.open(info) as part:
        head = part.read(64)
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return head.startswith((b"<", b"\xff\xfe<", b"\xfe\xff\x00<"))


def docx_text(data: bytes, name: str) -> tuple[str, list[int], list[Block]]:
    """Paragraphs and tables in document order: "Heading N" and "Title" styles
    are headings, and a table's rows read "header: cell; ..." after its first row."""
    import docx
    from docx.table import Table

    check_zip(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
        out = Builder()
        for part in document.iter_inner_content():
            if isinstance(part, Table):
                for line in table_rows([[c.text for c in row.cells] for row in part.rows]):
                    out.add(line, "row")
                continue
            style = (part.style.name if part.style is not None else "") or ""
            level = _heading_level(style)
            text = part.text.strip()
            out.add(text, ("question" if text.endswith("?") else "heading") if level else "body",
                    level)
    except DocumentError:
        raise
    except Exception as exc:  # python-docx raises several kinds for damaged parts
        raise DocumentError(f"{name}: cannot read this .docx ({type(exc).__name__})") from None
    return out.text, [], out.blocks


def _heading_level(style: str) -> int:
    """1 for "Title", N for "Heading N", 0 for any other paragraph style."""
    if style == "Title":
        return 1
    words = style.split()
    if len(words) == 2 and words[0] == "Heading" and words[1].isdigit():
        return min(9, int(words[1]) + 1)
    return 0


def pptx_text(data: bytes, name: str) -> tuple[str, list[int], list[Block]]:
    """A page per slide: its title (a heading), its other text, its notes."""
    from pptx import Presentation

    check_zip(data, name)
    out = Builder()
    try:
        deck = Presentation(io.BytesIO(data))
        for slide in deck.slides:
            out.page()
            title = slide.shapes.title
            if title is not None and title.has_text_frame and title.text_frame.text.strip():
                text = title.text_frame.text
                # A title that is a sentence ("Revenue grew 12 percent.") says something.
                out.add(text, *(("heading", 1) if titles_only(text) else ("body", 0)))
            for shape in slide.shapes:
                if shape.has_text_frame and shape.shape_id != getattr(title, "shape_id", None):
                    out.add(shape.text_frame.text)
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                out.add(slide.notes_slide.notes_text_frame.text)
    except Exception as exc:  # python-pptx raises several kinds for damaged parts
        raise DocumentError(f"{name}: cannot read this .pptx ({type(exc).__name__})") from None
    return out.text, out.page_starts, out.blocks


def xlsx_text(data: bytes, name: str) -> tuple[str, list[int], list[Block]]:
    import openpyxl

    check_zip(data, name, MAX_SHEET_MARKUP)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for damaged parts
        raise DocumentError(f"{name}: cannot read this .xlsx ({type(exc).__name__})") from None
    out, rows_read, cells = Builder(), 0, 0
    for sheet in book.worksheets:
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows_read += 1
            cells += len(row)
            if rows_read > MAX_ROWS or cells > MAX_CELLS:
                raise DocumentError(f"{name}: more than {MAX_ROWS:,} rows or {MAX_CELLS:,} "
                                    f"cells; split the workbook")
            rows.append(["" if v is None else str(v) for v in row])
        out.page()
        out.add(f"Sheet {sheet.title}.", "heading", 1)
        for line in table_rows(rows):
            out.add(line, "row")
    book.close()
    return out.text, out.page_starts, out.blocks


def csv_text(text: str, name: str) -> tuple[str, list[int], list[Block]]:
    """Rows as "header: value" lines, so a row reads as a sentence of its own."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096]) if text.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    rows = []
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text), dialect)):
            if number > MAX_ROWS:
                raise DocumentError(f"{name}: more than {MAX_ROWS:,} rows; split the file")
            rows.append(row)
    except csv.Error as exc:  # a field over the csv module's 131,072 characters, a stray NUL
        raise DocumentError(f"{name}: not a readable table ({exc})") from None
    out = Builder()
    for line in table_rows(rows):
        out.add(line, "row")
    return out.text, [], out.blocks
