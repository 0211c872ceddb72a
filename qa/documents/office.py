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


def paged(pages: list[str]) -> tuple[str, list[int]]:
    """Pages joined by blank lines, and where each starts."""
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + 2
    return "\n\n".join(pages), starts


def docx_text(data: bytes, name: str) -> tuple[str, list[int]]:
    import docx

    check_zip(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several kinds for damaged parts
        raise DocumentError(f"{name}: cannot read this .docx ({type(exc).__name__})") from None
    blocks = [p.text.strip() for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n\n".join(b for b in blocks if b), []


def pptx_text(data: bytes, name: str) -> tuple[str, list[int]]:
    from pptx import Presentation

    check_zip(data, name)
    try:
        deck = Presentation(io.BytesIO(data))
        slides = []
        for slide in deck.slides:
            parts = [shape.text_frame.text.strip() for shape in slide.shapes
                     if shape.has_text_frame and shape.text_frame.text.strip()]
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                notes = slide.notes_slide.notes_text_frame.text.strip()
                if notes:
                    parts.append(notes)
            slides.append("\n\n".join(parts))
    except Exception as exc:  # python-pptx raises several kinds for damaged parts
        raise DocumentError(f"{name}: cannot read this .pptx ({type(exc).__name__})") from None
    return paged(slides)


def xlsx_text(data: bytes, name: str) -> tuple[str, list[int]]:
    import openpyxl

    check_zip(data, name, MAX_SHEET_MARKUP)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for damaged parts
        raise DocumentError(f"{name}: cannot read this .xlsx ({type(exc).__name__})") from None
    sheets, rows_read, cells = [], 0, 0
    for sheet in book.worksheets:
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows_read += 1
            cells += len(row)
            if rows_read > MAX_ROWS or cells > MAX_CELLS:
                raise DocumentError(f"{name}: more than {MAX_ROWS:,} rows or {MAX_CELLS:,} "
                                    f"cells; split the workbook")
            rows.append(["" if v is None else str(v) for v in row])
        sheets.append(f"Sheet {sheet.title}.\n\n" + _rows_text(rows))
    book.close()
    return paged(sheets)


def _rows_text(rows: list[list[str]]) -> str:
    """Rows after the first as "header: value; ..." sentences, one paragraph each."""
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return ""
    header, lines = rows[0], []
    for row in rows[1:]:
        cells = [f"{h.strip()}: {v.strip()}" if h.strip() else v.strip()
                 for h, v in zip(header + [""] * len(row), row) if v.strip()]
        lines.append("; ".join(cells) + ".")
    return "\n\n".join(lines) if lines else " | ".join(header)


def csv_text(text: str, name: str) -> tuple[str, list[int]]:
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
    return _rows_text(rows), []
