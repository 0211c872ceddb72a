"""What each line of a PDF page is, from PDFium's fonts and boxes: headings,
captions, text inside figures and charts, tables of contents, reference
lists, and body text.

The rules read what a person sees: the body's type size is the size most
characters have; a heading is a short line set larger, or bold, or numbered
("3.1", "IV.", "B.") and standing alone; a caption starts "Fig. 3" or "Table
2"; text inside a figure lies in an image or a drawing, or is a run of short
scattered labels and numbers; a table of contents line ends in dot leaders
and a page number; everything under a "References" heading is the reference
list. pdfplumber (pdfminer) gives the same per-character fonts at several
times the reading time, and docling's layout model loads weights from a hub,
so PDFium, already read for the text, decides.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .structure import (
    BODY,
    HEADING_WORDS,
    REFERENCES_HEADING,
    ends_sentence,
    numbering,
    same_numbering,
    titled,
)

logger = logging.getLogger(__name__)

SAMPLES = 4  # characters per line whose font is read (the line's median)
FIGURE_MIN_SIDE = 40.0  # points: a drawing at least this wide and tall can be a figure
NEAR = 6.0  # points: shapes this close belong to one drawing
LINE_HIGH = 14.0  # points: about one line of text
MAX_SHAPES = 1_500  # shapes on a page merged one by one; more count as one drawing

_CAPTION = re.compile(r"^\s*(fig\.?|figure|table|tab\.|chart|exhibit|abb\.|abbildung|tabelle)"
                      r"\s*[\dIVXL]+[a-z]?(?:[.:]|\s*$)", re.I)
# Leaders are looked for at a line's end only: searched over a whole line of
# dots, the pattern was quadratic in it.
_LEADERS_SEEN = 120
_DOT_LEADERS = re.compile(r"(?:\.\s?){4,}\s*\d+\s*$|\s{3,}\d+\s*$")
_TABLE_CAPTION = re.compile(r"^\s*(table|tab\.|tabelle)\s*[\dIVXL]+", re.I)
_LINK = re.compile(r"https?://|www\.|\w@\w")  # a list of links or addresses is content
_CONTENTS = re.compile(r"^\s*(table of contents|contents|inhalt|inhaltsverzeichnis|"
                       r"sommaire|table des matières|índice)\s*$", re.I)


@dataclass
class Line:
    """One line of a page as PDFium reads it."""

    text: str
    size: float = 0.0
    bold: bool = False
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # left, bottom, right, top
    in_figure: bool = False


@dataclass
class Run:
    """Consecutive lines of one kind: a paragraph of the document."""

    kind: str
    level: int = 0
    lines: list[Line] = field(default_factory=list)

    def text(self, join: Callable[[list[str]], str]) -> str:
        return join([line.text for line in self.lines])


def lines(page: Any, textpage: Any, raw: list[tuple[str, int, int]]) -> list[Line]:
    """The page's lines with their type size, weight, box, and whether they lie
    inside a figure (an image or a drawing at least FIGURE_MIN_SIDE on each side)."""
    import pypdfium2.raw as pdfium_c

    out = []
    for text, start, count in raw:
        line = Line(text)
        if text.strip() and count:
            indexes = [start + i for i in range(count)
                       if not text[min(i, len(text) - 1)].isspace()] or [start]
            step = max(1, len(indexes) // SAMPLES)
            sample = indexes[::step][:SAMPLES]
            sizes = sorted(_font_size(textpage, i) for i in sample)
            line.size = round(sizes[len(sizes) // 2], 1)
            line.bold = sum(pdfium_c.FPDFText_GetFontWeight(textpage, i) >= 600
                            for i in sample) * 2 > len(sample)
            try:
                left, bottom, _, top = textpage.get_charbox(indexes[0])
                _, _, right, _ = textpage.get_charbox(indexes[-1])
                line.box = (left, bottom, right, top)
            except Exception:  # a generated character without a box
                pass
        out.append(line)
    centres = np.array([((ln.box[0] + ln.box[2]) / 2, (ln.box[1] + ln.box[3]) / 2)
                        for ln in out if ln.text.strip()], dtype=np.float64).reshape(-1, 2)
    figures = _figure_boxes(page, centres)
    for line in out:
        if line.text.strip():
            x, y = (line.box[0] + line.box[2]) / 2, (line.box[1] + line.box[3]) / 2
            line.in_figure = any(l <= x <= r and b <= y <= t for l, b, r, t in figures)
    return out


def _font_size(textpage: Any, index: int) -> float:
    """A character's type size as set on the page: its font's size times the
    scale of its text matrix (some PDFs set every font at 1 pt and scale it
    by the matrix; a title at 24 pt then reads as 1 pt)."""
    import pypdfium2.raw as pdfium_c

    size = pdfium_c.FPDFText_GetFontSize(textpage, index)
    matrix = pdfium_c.FS_MATRIX()
    if pdfium_c.FPDFText_GetMatrix(textpage, index, matrix):
        scale = abs(matrix.a * matrix.d - matrix.b * matrix.c) ** 0.5
        if scale > 0:
            size *= scale
    return float(size)


def _figure_boxes(page: Any, lines: np.ndarray | None = None
                  ) -> list[tuple[float, float, float, float]]:
    """Regions holding a figure: images and drawings, with the shapes of one
    diagram (boxes, arrows) merged when they touch or nearly do, that end at
    least FIGURE_MIN_SIDE on each side. A form that holds most of the page's
    `lines` (their centres) is the page's content wrapped whole, not a drawing."""
    import pypdfium2.raw as pdfium_c

    boxes = []
    whole = (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM)  # a picture, a drawing
    for obj in page.get_objects(max_depth=1):  # a form's own shapes are in its coordinates
        if obj.type in whole or obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
            left, bottom, right, top = obj.get_bounds()
            width, height = right - left, top - bottom
            if obj.type == pdfium_c.FPDF_PAGEOBJ_FORM and lines is not None and \
                    len(lines) >= 3 and 2 * int(np.count_nonzero(
                        (lines[:, 0] >= left) & (lines[:, 0] <= right)
                        & (lines[:, 1] >= bottom) & (lines[:, 1] <= top))) > len(lines):
                continue  # the page's content wrapped whole in one form, not a drawing
            # A shape a line of text high and many times as wide is an
            # underline, a highlight or a table row's fill, not a drawing.
            banner = height <= LINE_HIGH and width >= 5 * height
            if obj.type in whole or (width * height >= 4 and not banner):
                boxes.append((left, bottom, right, top))
    if len(boxes) > MAX_SHAPES:  # a page of vector art: one region around it all
        boxes = [(min(b[0] for b in boxes), min(b[1] for b in boxes),
                  max(b[2] for b in boxes), max(b[3] for b in boxes))]
    merged = True
    while merged:
        merged = False
        out: list[tuple[float, float, float, float]] = []
        for box in boxes:
            for i, other in enumerate(out):
                if box[0] <= other[2] + NEAR and other[0] <= box[2] + NEAR and \
                        box[1] <= other[3] + NEAR and other[1] <= box[3] + NEAR:
                    out[i] = (min(box[0], other[0]), min(box[1], other[1]),
                              max(box[2], other[2]), max(box[3], other[3]))
                    merged = True
                    break
            else:
                out.append(box)
        boxes = out
    return [b for b in boxes if b[2] - b[0] >= FIGURE_MIN_SIDE and b[3] - b[1] >= FIGURE_MIN_SIDE]


def classify(pages: list[list[Line]]) -> list[list[Run]]:
    """Each page's lines as runs of one kind each (structure.py's kinds)."""
    sizes: Counter[float] = Counter()
    for page in pages:
        for line in page:
            sizes[line.size] += len(line.text.strip())
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    heading_sizes = sorted({ln.size for page in pages for ln in page
                            if ln.size >= body * 1.15 and _short(ln.text)}, reverse=True)
    out: list[list[Run]] = []
    references_level = 0  # inside a reference list: the level of its heading
    contents = False
    title = {id(line) for line in title_lines(pages[0] if pages else [], body)}
    for page in pages:
        runs: list[Run] = []
        previous_wraps = False  # the line before continues onto this one
        for n, line in enumerate(page):
            text = line.text.strip()
            if not text:
                runs.append(Run(BODY, 0, [line]))  # keeps paragraph breaks
                previous_wraps = False
                continue
            kind, level = BODY, 0
            if id(line) in title:  # one heading, however many lines it wraps onto
                if runs and runs[-1].kind == "heading" and id(runs[-1].lines[-1]) in title:
                    runs[-1].lines.append(line)
                else:
                    runs.append(Run("heading", 1, [line]))
                previous_wraps = False
                continue
            if previous_wraps and runs and _continues(runs[-1], line, len(heading_sizes)):
                kind, level = runs[-1].kind, runs[-1].level
            else:
                # after a sentence's end, a wrapped line may still be followed by
                # a numbered heading ("respectively. " then "3) ZFNet (2013)")
                after = page[n + 1] if n + 1 < len(page) else None
                # shorter than the line under it, which starts a sentence: on its own
                alone = after is not None and after.text.strip()[:1].isupper() and \
                    line.box[2] - line.box[0] < 0.75 * (after.box[2] - after.box[0])
                level = _heading_level(line, body, heading_sizes, previous_wraps and not (
                    ends_sentence(runs[-1].lines[-1].text) and numbering(text)), alone)
                if level and line.size < body * 1.15 and any(
                        same_numbering(text, page[m].text) for m in (n - 1, n + 1)
                        if 0 <= m < len(page)):
                    level = 0  # an item of a numbered list, not a heading
                if level:
                    kind = "heading"
                elif _CAPTION.match(text):
                    kind = "caption"
                elif _DOT_LEADERS.search(text[-_LEADERS_SEEN:]) or (
                        contents and _ends_in_page_number(text)):
                    kind = "toc"
                elif _figure_text(line, body):
                    kind = "figure"
            if kind == "heading" and references_level and line.size < body * 1.15:
                kind, level = "reference", 0  # a numbered entry; only a larger heading ends the list
            if kind == "heading":
                contents = bool(_CONTENTS.match(text))
                if references_level and level <= references_level:
                    references_level = 0
                if REFERENCES_HEADING.match(text):
                    references_level = level
            elif references_level and kind == BODY:
                kind = "reference"
            if runs and runs[-1].kind == kind and runs[-1].level == level and \
                    (kind != "heading" or previous_wraps):
                runs[-1].lines.append(line)
            else:
                runs.append(Run(kind, level, [line]))
            previous_wraps = line.text.endswith((" ", "\ufffe")) and kind != "figure"
        if title and not out:  # a banner above the title ("Research Article") heads nothing
            for run in runs:
                if id(run.lines[0]) in title:
                    break
                if run.kind == "heading" and run.level == 1:
                    run.level = 2
        out.append(_short_runs_as_figures(runs, body))
    return out


TITLE_SIZE = 1.2  # a title is set at least this much larger than the body
TITLE_WORDS = 50  # a longer run of large lines is not a title


def title_lines(page: list[Line], body: float) -> list[Line]:
    """The lines of a first page's title: the run of adjacent lines in the
    page's largest type (at least TITLE_SIZE times the body's, in one weight)
    that holds the most words, counting only lines of two words or more (a
    journal's name or "Research" set large is not the title)."""
    candidates = [ln for ln in page if not ln.in_figure and ln.size >= body * TITLE_SIZE
                  and sum(w[:1].isalpha() for w in ln.text.split()) >= 2]
    if not candidates:
        return []
    size = max(ln.size for ln in candidates)
    runs: list[list[Line]] = []
    for line in page:
        text = line.text.strip()
        if not text:
            continue
        same = abs(line.size - size) <= 0.5 and not line.in_figure
        if same and runs and runs[-1] and runs[-1][-1].bold == line.bold and \
                _adjacent(runs[-1][-1], line):
            runs[-1].append(line)
        elif same:
            runs.append([line])
        elif not runs or runs[-1]:
            runs.append([])  # another line ends the run
    best = max(runs, key=lambda run: sum(len(ln.text.split()) for ln in run))
    words = sum(len(ln.text.split()) for ln in best)
    return best if 2 <= words <= TITLE_WORDS else []


def _adjacent(above: Line, below: Line) -> bool:
    """Whether `below` is the next line of the same block as `above` (at most
    about one line's height apart, or on the same baseline)."""
    height = max(above.box[3] - above.box[1], below.box[3] - below.box[1], 1.0)
    return above.box[1] - below.box[3] <= 1.5 * height


def with_tables(data: bytes, pages: list[list[Line]], runs: list[list[Run]],
                heights: list[float]) -> None:
    """Read the tables of the pages that have a "Table N" caption with
    pdfplumber (its table finder, over pdfminer's characters: about half a
    second a page, so only there) and put each table in place of its lines as
    rows read with their header row ("Team: Support; Lead: Tomas Brandt.")."""
    wanted = [i for i, page in enumerate(runs)
              if any(r.kind == "caption" and _TABLE_CAPTION.match(r.lines[0].text) for r in page)]
    if not wanted:
        return
    import io

    import pdfplumber

    from .text import table_rows

    started = time.monotonic()
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for i in wanted[:MAX_TABLE_PAGES]:
            try:
                if time.monotonic() - started > MAX_TABLE_SECONDS or \
                        _grid(pdf.pages[i]) > MAX_GRID:
                    continue  # the page keeps its plain lines
                found = []
                for table in pdf.pages[i].find_tables():
                    rows = [[_cell(cell) for cell in row] for row in table.extract()]
                    if len(rows) >= 2 and sum(1 for c in rows[0] if c) >= 2:  # not a box
                        left, top, right, bottom = table.bbox  # from the top of the page
                        found.append(((left, heights[i] - bottom, right, heights[i] - top),
                                      table_rows(rows)))
            except Exception as exc:  # the table finder failed on this page's drawing
                logger.info("page %d: tables not read (%s: %s)", i + 1, type(exc).__name__, exc)
                continue  # the page keeps its plain lines; the document is read
            if found:
                runs[i] = _tables_in_place(runs[i], found)


# The table finder's cost grows with the ruling lines' crossings (a 120 x 120
# grid took 5-18 s a page): pages past these bounds keep their plain lines.
MAX_TABLE_PAGES = 50  # pages of one document read for tables
MAX_GRID = 2_500  # horizontal times vertical ruling lines on a page (a 50 x 50 grid)
MAX_TABLE_SECONDS = 20.0  # no further page is started after this long


def _grid(page: Any) -> int:
    """Horizontal times vertical ruling lines, merged as the table finder
    merges them (a cell drawn as a rectangle shares its sides)."""
    from pdfplumber.table import merge_edges

    # the finder's default tolerances, over the straight edges it reads (a
    # curve's edges have no orientation: merge_edges raised KeyError on them)
    merged = merge_edges([e for e in page.edges if e.get("orientation") in ("h", "v")],
                         3, 3, 3, 3)
    across = sum(1 for e in merged if e["orientation"] == "h")
    return across * (len(merged) - across)


def _cell(text: str | None) -> str:
    """A table cell's lines as one: a word broken at a line end is joined
    ("Independ-\nence"), a hyphen before a capital or digit kept ("LeNet-\n5")."""
    text = re.sub(r"(?<=\w)-\n(?=[a-z])", "", text or "")
    return " ".join(re.sub(r"-\n", "-", text).split())


def _tables_in_place(runs: list[Run], tables: list[tuple[tuple[float, float, float, float],
                                                         list[str]]]) -> list[Run]:
    out: list[Run] = []
    placed: set[int] = set()
    for run in runs:
        kept: list[Line] = []
        for line in run.lines:
            x, y = (line.box[0] + line.box[2]) / 2, (line.box[1] + line.box[3]) / 2
            inside = next((n for n, ((l, b, r, t), _) in enumerate(tables)
                           if line.text.strip() and l <= x <= r and b <= y <= t), None)
            if inside is None:
                kept.append(line)
                continue
            if inside not in placed:  # the table's rows where its first line was
                placed.add(inside)
                if kept:
                    out.append(Run(run.kind, run.level, kept))
                    kept = []
                out.extend(Run("row", 0, [Line(row)]) for row in tables[inside][1])
        if kept:
            out.append(Run(run.kind, run.level, kept))
    return out


def _continues(run: Run, line: Line, larger: int) -> bool:
    """Whether a wrapped line goes on with the caption, table of contents or
    heading above it: in the same font, and for a heading, one set larger
    than the body (a numbered or bold heading in the body's size is one line:
    the line after it starts the section's text) that stays short."""
    last = run.lines[-1]
    if abs(last.size - line.size) > 0.5 or last.bold != line.bold:
        return False
    if run.kind == "heading":
        words = sum(len(ln.text.split()) for ln in run.lines) + len(line.text.split())
        return run.level <= larger and words <= HEADING_WORDS * 2
    return run.kind in ("caption", "toc")


def _short(text: str) -> bool:
    """Short enough for a heading, and more than a drop capital."""
    return 0 < len(text.split()) <= HEADING_WORDS and sum(c.isalnum() for c in text) >= 3


def _heading_level(line: Line, body: float, heading_sizes: list[float],
                   continued: bool, alone: bool = False) -> int:
    """The heading level of a line (0: not a heading); `alone`: the line is
    much shorter than the next, which starts a sentence."""
    text = line.text.strip()
    if continued or not _short(text) or text.endswith((".", ",", ";", ":")) and \
            not numbering(text) or line.in_figure:
        return 0
    if not text[0].isupper() and not text[0].isdigit():
        return 0
    if REFERENCES_HEADING.match(text) or _CONTENTS.match(text):
        return len(heading_sizes) + 1
    if line.size >= body * 1.15 and line.size in heading_sizes:
        return 1 + heading_sizes.index(line.size)
    numbered = numbering(text)
    if numbered and not text.rstrip().endswith("."):
        dotted, roman, letter, paren = numbered
        # a line that ends where its text does (no wrap) stands alone
        words = text.split()
        is_titled = titled(words[1:]) or (alone or not line.text.endswith((" ", "\ufffe"))) \
            and len(words) > 1 and words[1][:1].isupper()
        if roman:
            return len(heading_sizes) + 1
        if letter and (line.bold or is_titled):
            return len(heading_sizes) + 2
        if dotted and (line.bold or titled(text.split()[1:]) or line.size > body):
            return len(heading_sizes) + 1 + dotted.count(".")
        if paren and (line.bold or is_titled):
            return len(heading_sizes) + 3
    if line.text.endswith((" ", "\ufffe")):  # wraps on: the first line of a paragraph
        return 0
    if line.bold and not text.endswith(".") and len(text.split()) <= 10 and \
            abs(line.size - body) <= body * 0.15:
        return len(heading_sizes) + 2
    return 0


def _ends_in_page_number(text: str) -> bool:
    words = text.split()
    return len(words) >= 2 and words[-1].isdigit() and len(words[-1]) <= 4


def _figure_text(line: Line, body: float) -> bool:
    """Labels and numbers inside a figure or chart."""
    return line.in_figure and (abs(line.size - body) > 0.5 or len(line.text.split()) <= 6)


def _short_runs_as_figures(runs: list[Run], body: float) -> list[Run]:
    """Three or more body lines in a row of at most three words each, none
    ending a sentence, set off the body's size: labels scattered in a drawing."""
    out: list[Run] = []
    for run in runs:
        if run.kind == BODY and len(run.lines) >= 3 and all(
                len(ln.text.split()) <= 3 and not ln.text.strip().endswith((".", "?", "!"))
                and abs(ln.size - body) > 0.5 and not _LINK.search(ln.text)
                for ln in run.lines if ln.text.strip()):
            run.kind = "figure"
        out.append(run)
    return out
