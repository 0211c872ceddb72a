"""Plain text, Markdown and HTML: decoding and visible text."""

from __future__ import annotations

import logging
import re
from collections import Counter
from html.parser import HTMLParser

from ..errors import DocumentError
from .structure import BODY, QUESTION_LEVEL, Block, Builder, markdown_blocks

logger = logging.getLogger(__name__)


def decode(data: bytes, name: str) -> str:
    if not data.strip():
        raise DocumentError(f"{name}: the file is empty")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(f"{name}: looks like a binary file, not text")
    for encoding in ("utf-8-sig", "utf-16") if data.startswith((b"\xff\xfe", b"\xfe\xff")) \
            else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    # Not UTF-8: Windows-1252 is the usual legacy encoding and a superset of
    # Latin-1's printable range; fall back to Latin-1, which decodes any byte.
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > len(text) * 0.01:
        raise DocumentError(f"{name}: looks like a binary file, not text")
    logger.info("%s is not UTF-8; decoded as Windows-1252", name)
    return text


class _VisibleText(HTMLParser):
    """Collects the text a browser would show, paragraph by paragraph with its
    kind (structure.py): h1-h6 are headings (a heading or a bold-only line
    that asks a question is a question line), nav/header/footer/aside and
    runs of link-only list items are navigation, figcaption/caption are
    captions, other text inside <figure> is figure text, and a table's rows
    read "header: cell; ..." after its header row. Never fetches anything."""

    _HIDDEN = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
               "section", "article", "header", "footer", "blockquote", "pre", "title",
               "ul", "ol", "table", "hr", "dd", "dt", "nav", "aside", "figure", "figcaption",
               "caption", "summary", "details", "main", "td", "th", "dl"}
    _NAV = ("nav", "header", "footer", "aside")
    _KINDS = frozenset({*_NAV, "figure", "figcaption", "caption", "dt", "summary"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = Builder()
        self._hidden = 0
        # Open tags that decide a paragraph's kind, as counts, and the open
        # heading (headings do not nest: a browser closes one when the next
        # opens). Counters keep reading linear: a list scanned per paragraph
        # took 46 s for 20,000 nested <h2>.
        self._open: Counter[str] = Counter()
        self._heading: str | None = None
        self._buffer: list[str] = []
        self._bold_chars = self._link_chars = 0
        self._bold = self._link = 0
        self._table: list[list[tuple[str, bool]]] | None = None  # rows of (cell, is header)
        self._cell: list[str] | None = None
        self._cell_header = False
        self._links_run: list[tuple[int, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
            return
        if tag in ("b", "strong"):
            self._bold += 1
        elif tag == "a":
            self._link += 1
        if self._table is not None and tag in ("td", "th"):
            self._cell = []
            self._cell_header = tag == "th"
            return
        if tag in self._BLOCKS:
            self._flush()
        if tag == "table":
            self._table = []
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        if tag in _HEADINGS:
            self._heading = tag
        elif tag in self._KINDS:
            self._open[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
            return
        if tag in ("b", "strong"):
            self._bold = max(0, self._bold - 1)
        elif tag == "a":
            self._link = max(0, self._link - 1)
        if self._table is not None and tag in ("td", "th") and self._cell is not None:
            if not self._table:
                self._table.append([])
            self._table[-1].append((" ".join("".join(self._cell).split()), self._cell_header))
            self._cell = None
            return
        if tag == "table" and self._table is not None:
            rows, self._table = self._table, None
            self._rows(rows)
            return
        if tag in self._BLOCKS:
            self._flush()
        if tag in _HEADINGS:
            self._heading = None
        elif self._open[tag] > 0:
            self._open[tag] -= 1

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._cell is not None:
            self._cell.append(data)
            return
        if self._table is not None:
            return  # text between cells
        self._buffer.append(data)
        visible = len(data.strip())
        self._bold_chars += visible if self._bold else 0
        self._link_chars += visible if self._link else 0

    def _flush(self) -> None:
        text = " ".join("".join(self._buffer).split())
        bold, link = self._bold_chars, self._link_chars
        self._buffer, self._bold_chars, self._link_chars = [], 0, 0
        if not text:
            return
        visible = len(text.replace(" ", ""))
        kind, level = BODY, 0
        heading, open_ = self._heading, self._open
        if any(open_[t] for t in self._NAV):
            kind = "nav"
        elif heading:
            kind, level = ("question" if text.endswith("?") else "heading"), int(heading[1])
        elif open_["figcaption"]:
            kind = "caption"
        elif open_["figure"]:
            kind = "figure"
        elif (open_["dt"] or open_["summary"] or bold >= 0.9 * visible) and text.endswith("?"):
            kind, level = "question", QUESTION_LEVEL
        start = self.out.next_start()
        self.out.add(text, kind, level)
        # A run of link-only paragraphs (menus, a table of contents) is navigation.
        if kind == BODY and link >= 0.9 * visible and len(text) < 120:
            self._links_run.append((start, start + len(text)))
        else:
            self._end_links()

    def _end_links(self) -> None:
        if len(self._links_run) >= 3:
            # no block was added inside the run (its paragraphs are body text),
            # so appending keeps the blocks sorted
            self.out.blocks.append(Block(self._links_run[0][0], self._links_run[-1][1], "toc"))
        self._links_run = []

    def _rows(self, rows: list[list[tuple[str, bool]]]) -> None:
        rows = [r for r in rows if any(cell for cell, _ in r)]
        if not rows:
            return
        self._end_links()
        for line in table_rows([[c for c, _ in r] for r in rows]):
            self.out.add(line, "row")

    def close(self) -> None:
        super().close()
        self._flush()
        self._end_links()


_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


def html_text(html: str) -> tuple[str, list[Block]]:
    """The visible text of an HTML page and its structure blocks."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return parser.out.text, parser.out.blocks


_RULE_CELL = re.compile(r":?-{3,}:?")


def _pipe_rule(line: str) -> bool:
    """Whether a line is a pipe table's rule ("|---|:--:|"). Cells are
    stripped before matching: `\\s*\\|?\\s*` backtracks quadratically over spaces."""
    return "-" in line and all(_RULE_CELL.fullmatch(c) for c in _pipe_cells(line))


def markdown(text: str) -> tuple[str, list[Block]]:
    """Markdown (or plain text) with its structure: pipe tables become rows
    read with their header row, each a paragraph; then headings, question
    lines and tables of contents (structure.markdown_blocks)."""
    lines = text.split("\n")
    if not any(_pipe_rule(line) for line in lines):
        return text, markdown_blocks(text)
    out: list[str] = []
    rows: list[tuple[int, int]] = []  # offsets of the row paragraphs in the new text
    length, i = 0, 0
    while i < len(lines):
        if i + 1 < len(lines) and "|" in lines[i] and _pipe_rule(lines[i + 1]):
            end = i + 2
            while end < len(lines) and "|" in lines[end] and lines[end].strip():
                end += 1
            cells = [_pipe_cells(lines[i])] + [_pipe_cells(line) for line in lines[i + 2:end]]
            for row in table_rows(cells):
                piece = f"\n{row}\n"
                rows.append((length + 1, length + 1 + len(row)))
                out.append(piece)
                length += len(piece) + 1
            i = end
            continue
        out.append(lines[i])
        length += len(lines[i]) + 1
        i += 1
    converted = "\n".join(out)
    blocks = markdown_blocks(converted) + [Block(a, b, "row") for a, b in rows]
    return converted, sorted(blocks, key=lambda b: b.start)


def _pipe_cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


# A header repeated before every cell is cut to HEADER_CHARS (at a word), and
# a table's rows read with their headers only while the text stays within
# TABLE_GROWTH times the cells' own text: past that, the rest are read as
# "cell | cell" (a 493 kB table with 100 long headers became 201 million
# characters when every header was repeated whole).
HEADER_CHARS = 40
TABLE_GROWTH = 8


def table_rows(rows: list[list[str]], header: bool = True) -> list[str]:
    """A table's rows as lines of their own: with a header row, each later row
    as "header: cell; header: cell." (a cell without a header stands alone);
    without one, the cells joined by " | "."""
    rows = [[" ".join(c.split()) for c in r] for r in rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    if not header or len(rows) == 1:
        return [" | ".join(c for c in r if c) for r in rows]
    names = [_short_header(h) for h in rows[0]]
    budget = TABLE_GROWTH * sum(len(c) + 1 for r in rows for c in r) + 10_000
    lines = [" | ".join(c for c in rows[0] if c)] if any(n != h for n, h in zip(names, rows[0])) \
        else []  # the long headers are read whole once
    for row in rows[1:]:
        if budget > 0:
            cells = [f"{h}: {v}" if h else v
                     for h, v in zip(names + [""] * len(row), row) if v]
            line = "; ".join(cells) + "."
        else:
            line = " | ".join(c for c in row if c)
        budget -= len(line)
        lines.append(line)
    return lines


def _short_header(name: str) -> str:
    if len(name) <= HEADER_CHARS:
        return name
    cut = name.rfind(" ", 0, HEADER_CHARS)
    return name[:cut if cut > HEADER_CHARS // 2 else HEADER_CHARS] + "…"
