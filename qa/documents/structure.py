"""A document's structure: what each stretch of its text is, read once by the
file's reader and kept in the index.

A reader marks the stretches that are not running text as `Block`s (headings
with their level and title, FAQ question lines, tables of contents and
navigation, text inside figures, captions, reference entries, table rows);
everything else is body text. Blocks are sentence boundaries, every sentence
takes the kind of the block it lies in, and its section path (the titles of
the headings above it, outermost first) gives it context for retrieval and
answering. Headings, question lines, tables of contents, navigation, figure
text and references are never an answer sentence (`NOT_ANSWERS`).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BODY = "body"
KINDS = ("heading", "question", "toc", "nav", "figure", "caption", "reference", "row")
NOT_ANSWERS = frozenset({"heading", "question", "toc", "nav", "figure", "reference"})
SECTION_SEPARATOR = " > "
QUESTION_LEVEL = 7  # a FAQ question line heads the text under it, below any heading


@dataclass(frozen=True)
class Block:
    """A stretch [start, end) of a document's text that is not body text.

    Attributes:
        kind: one of KINDS.
        level: the depth of a heading or a question line that heads a
            section (1 outermost); 0 for blocks that head nothing.
        title: the text a heading adds to section paths.
    """

    start: int
    end: int
    kind: str
    level: int = 0
    title: str = ""

    def to_list(self) -> list[Any]:
        return [self.start, self.end, self.kind, self.level, self.title] if self.title \
            else [self.start, self.end, self.kind, self.level]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> Block:
        return cls(int(row[0]), int(row[1]), str(row[2]), int(row[3]) if len(row) > 3 else 0,
                   str(row[4]) if len(row) > 4 else "")


TITLE_CHARS = 300  # a heading's title is cut, at a word, to this length


def heading_title(text: str) -> str:
    """A heading's text on one line, cut at a word to TITLE_CHARS."""
    title = " ".join(text.split())
    if len(title) <= TITLE_CHARS:
        return title
    return title[:TITLE_CHARS].rsplit(" ", 1)[0]


class Builder:
    """Text assembled paragraph by paragraph (blank lines between), with the
    blocks and page starts a reader records on the way."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.blocks: list[Block] = []
        self.page_starts: list[int] = []
        self._length = 0

    def add(self, text: str, kind: str = BODY, level: int = 0) -> None:
        """Append a paragraph (nothing when blank) of the given kind."""
        text = text.strip()
        if not text:
            return
        if self.parts:
            self.parts.append("\n\n")
            self._length += 2
        if kind != BODY:
            title = heading_title(text) if level else ""
            self.blocks.append(Block(self._length, self._length + len(text), kind, level, title))
        self.parts.append(text)
        self._length += len(text)

    def extend(self, text: str, blocks: Sequence[Block]) -> None:
        """Append a text read elsewhere (a chapter) with its own blocks."""
        if not text.strip():
            return
        if self.parts:
            self.parts.append("\n\n")
            self._length += 2
        self.blocks.extend(shift(blocks, self._length))
        self.parts.append(text)
        self._length += len(text)

    def page(self) -> None:
        """Start a new page: the next paragraph is its first."""
        self.page_starts.append(self._length + (2 if self.parts else 0))

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def next_start(self) -> int:
        """Where the next paragraph added will start (a counter: no join)."""
        return self._length + (2 if self.parts else 0)


def titles_only(text: str, most_words: int = 14) -> bool:
    """Whether a line reads as a title rather than a statement: short, and not
    ending as a sentence does."""
    text = text.strip()
    return 0 < len(text.split()) <= most_words and not text.endswith((".", "!"))


def boundaries(blocks: Sequence[Block]) -> list[int]:
    """Offsets where a sentence must end: every block's start and end."""
    return sorted({b.start for b in blocks} | {b.end for b in blocks})


def kinds(blocks: Sequence[Block], spans: Sequence[Any]) -> list[str]:
    """The kind of each sentence span (sorted blocks, sorted spans): its block's, or body."""
    starts = [b.start for b in blocks]
    out = []
    for span in spans:
        i = bisect.bisect_right(starts, span.start) - 1
        inside = i >= 0 and blocks[i].start <= span.start < blocks[i].end
        out.append(blocks[i].kind if inside else BODY)
    return out


def sections(blocks: Sequence[Block], spans: Sequence[Any]) -> list[str]:
    """Each span's section path: the titles of the headings before it, each
    deeper than the one above ("III. CNN > A. Pooling")."""
    headings = [b for b in blocks if b.level > 0]
    out: list[str] = []
    path: list[Block] = []
    at = 0
    for span in spans:
        while at < len(headings) and headings[at].start <= span.start:
            h = headings[at]
            while path and path[-1].level >= h.level:
                path.pop()
            path.append(h)
            at += 1
        out.append(SECTION_SEPARATOR.join(h.title for h in path if h.start != span.start))
    return out


def heading(section: str) -> str:
    """The innermost heading of a section path: a sentence's context. (The
    outer ones, the document's title above all, head every sentence under
    them, and would make their words look common.)"""
    return section.rsplit(SECTION_SEPARATOR, 1)[-1]


def lexical_context(sections_of: Sequence[str]) -> str:
    """The innermost headings of a chunk's sentences, each once: words a
    lexical search adds to the chunk's own (a question that names the section)."""
    return " ".join(dict.fromkeys(heading(p) for p in sections_of if p))


def counts(blocks: Sequence[Block], spans: Sequence[Any]) -> dict[str, int]:
    """Sentences by kind, for `qa index --json`."""
    return dict(Counter(kinds(blocks, spans)))


def shift(blocks: Sequence[Block], offset: int) -> list[Block]:
    return [Block(b.start + offset, b.end + offset, b.kind, b.level, b.title) for b in blocks]


REFERENCES_HEADING = re.compile(r"^\W*(?:[\dIVXL]+\.?\s+)?(references|bibliography|works cited|"
                         r"literature cited|literatur|literaturverzeichnis|références|"
                         r"bibliographie|bibliografía|bibliografia|sources)\W*$", re.I)


def with_references(text: str, blocks: list[Block]) -> list[Block]:
    """The blocks, and the text under a "References" (or "Bibliography", ...)
    heading, up to the next heading as high, marked as reference entries."""
    if any(b.kind == "reference" for b in blocks):
        return blocks  # the reader marked them (PDF)
    out = list(blocks)
    headings = [b for b in blocks if b.kind == "heading"]
    for i, h in enumerate(headings):
        if not REFERENCES_HEADING.match((h.title or text[h.start:h.end])[:200]):
            continue
        end = next((n.start for n in headings[i + 1:] if n.level <= h.level), len(text))
        taken = [b for b in blocks if h.end <= b.start < end]
        at = h.end
        for b in [*taken, Block(end, end, "")]:  # the stretches between other blocks
            if text[at:b.start].strip():
                out.append(Block(at, b.start, "reference"))
            at = max(at, b.end)
    return sorted(out, key=lambda b: b.start)


# -- plain text and Markdown ------------------------------------------------------
# Lines are stripped before any pattern sees them, and no pattern has two
# adjacent quantified parts that can match the same characters: "# a" and
# 2,000 spaces took 23 s under `^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$`.
MAX_HEADING_LINE = 300  # a longer line is body text, never a heading
_SETEXT = re.compile(r"=+|-+")
_LINK_ITEM = re.compile(r"(?:[-*+]|\d{1,9}[.)])[ \t]+\[[^\]]+\]\([^)]*\)")


# "IV. Results", "A. Review on GAN", "5) VGGNET (2014)", "2.1 Data": the
# numbering a heading line can start with (anchored; each part is one run).
NUMBERED = re.compile(r"^\s*(?:(\d+(?:\.\d+)*)\.?|([IVXL]+)\.|([A-Z])\.|(\d+)\))\s+\S")
HEADING_WORDS = 14  # a longer line is never a heading
_ENDS_SENTENCE = (".", "!", "?", ":", ";")
_CLOSERS = "\"'”’)]»"


def titled(words: list[str]) -> bool:
    """At least half the words start with a capital or a digit ("Review on GAN")."""
    return bool(words) and sum(w[:1].isupper() or w[:1].isdigit() for w in words) * 2 >= len(words)


def numbering(text: str) -> tuple[str | None, ...] | None:
    """(dotted, roman, letter, paren): the numbering `text` starts with, one
    of them set; None without (or with a year: "2015 Was ...")."""
    match = NUMBERED.match(text)
    if not match:
        return None
    dotted, paren = match.group(1), match.group(4)
    if dotted and "." not in dotted and len(dotted) > 2 and \
            not text.lstrip()[len(dotted):].startswith("."):
        return None
    if paren and len(paren) > 2:  # "485) this ...": the end of "(n = 485)", not "5)"
        return None
    return match.groups()


def same_numbering(line: str, other: str) -> bool:
    """Both lines start with numbering of one style ("1." and "2.", "a)" ...):
    items of one list."""
    mine, theirs = numbering(line), numbering(other)
    return bool(mine and theirs) and \
        [g is None for g in mine] == [g is None for g in theirs]  # type: ignore[union-attr]


def numbered_title(line: str, alone: bool = False) -> tuple[int, str] | None:
    """(level, kind) of a line that reads as a numbered or lettered heading
    ("IV. RESULTS": roman, "A. Review on GAN": letter, "5) VGGNET (2014)":
    paren, "2.1 Data Sets": dotted): short, not ending as a sentence does,
    and titled, or in sentence case where its layout shows it stands `alone`.
    Level: roman 1, dotted its depth, letter 2, paren 3."""
    text = line.strip()
    if len(text) > 120 or text.endswith(_ENDS_SENTENCE + (",",)):
        return None
    numbers = numbering(text)
    words = text.split()
    if not numbers or len(words) > HEADING_WORDS or not (alone or titled(words[1:])) \
            or sum(c.isalpha() for c in text) < 3:
        return None
    dotted, roman, letter, paren = numbers
    if roman:
        return 1, "roman"
    if letter:
        return 2, "letter"
    if paren:
        return 3, "paren"
    return 1 + dotted.count("."), "dotted"


def ends_sentence(line: str) -> bool:
    """The line ends a sentence ("... respectively.", "... networks)”.")."""
    return line.rstrip().rstrip(_CLOSERS).endswith(_ENDS_SENTENCE)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def atx_heading(line: str) -> tuple[int, str] | None:
    """(level, title) of a Markdown "# Title ##" line, or None."""
    if _indent(line) > 3 or len(line) > MAX_HEADING_LINE:
        return None
    text = line.strip()
    hashes = len(text) - len(text.lstrip("#"))
    if not 1 <= hashes <= 6 or not text[hashes:hashes + 1].isspace():
        return None
    title = text[hashes:].strip()
    closed = title.rstrip("#")
    if closed != title and (not closed or closed[-1].isspace()):  # "# Title ##"
        title = closed.strip()
    return (hashes, title) if title else None


def _setext(line: str) -> bool:
    return _indent(line) <= 3 and len(line) <= MAX_HEADING_LINE \
        and _SETEXT.fullmatch(line.strip()) is not None


def _bold_line(line: str) -> str | None:
    """The text of a line that is bold only ("**Why?**"), or None."""
    text = line.strip()
    mark = text[:2]
    if mark not in ("**", "__") or len(text) < 5 or not text.endswith(mark):
        return None
    return text[2:-2]


def markdown_blocks(text: str) -> list[Block]:
    """Headings (# and underlined), FAQ question lines (a heading or a bold line
    ending in "?"), and tables of contents (a run of link-only list items) of
    Markdown or plain text."""
    blocks: list[Block] = []
    lines = list(re.finditer(r"[^\n]*", text))
    lines = [m for m in lines if m.start() == 0 or text[m.start() - 1] == "\n"]
    links: list[re.Match[str]] = []

    def flush() -> None:
        if len(links) >= 3:  # a list of links only: navigation or a table of contents
            blocks.append(Block(links[0].start(), links[-1].end(), "toc"))
        links.clear()

    for i, line in enumerate(lines):
        content = line.group(0)
        if len(content) <= MAX_HEADING_LINE and _LINK_ITEM.fullmatch(content.strip()):
            links.append(line)
            continue
        flush()
        heading = atx_heading(content)
        if heading:
            blocks.append(_heading(line.start(), line.end(), heading[1], heading[0]))
            continue
        nxt = lines[i + 1].group(0) if i + 1 < len(lines) else ""
        if content.strip() and _setext(nxt) and not _setext(content) and len(content) < 200:
            level = 1 if nxt.strip().startswith("=") else 2
            blocks.append(_heading(line.start(), lines[i + 1].end(), content.strip(), level))
            continue
        bold = _bold_line(content) if len(content) <= MAX_HEADING_LINE else None
        if bold and bold.strip().endswith("?"):
            blocks.append(_heading(line.start(), line.end(), bold.strip(), QUESTION_LEVEL))
            continue
        numbered = _numbered_heading(lines, i)
        if numbered:
            blocks.append(_heading(line.start(), line.end(), content.strip(), numbered))
    flush()
    return sorted(blocks, key=lambda b: b.start)


def _numbered_heading(lines: list[re.Match[str]], i: int) -> int | None:
    """The level of line i as a numbered heading standing on its own line: it
    reads as one (`numbered_title`), the text before it has ended (a blank
    line or a sentence's end), text follows it, and it is not an item of a
    list (no line next to it is numbered the same way)."""
    def at(j: int) -> str:
        return lines[j].group(0) if 0 <= j < len(lines) else ""

    line, before, after = at(i), at(i - 1), at(i + 1)
    # a line under 75% as long as the next one stands alone even in sentence
    # case (hard-wrapped text's lines are all about as long as the wrap)
    alone = after[:1].isupper() and len(line.strip()) < 0.75 * len(after.strip())
    title = numbered_title(line, alone)
    if not title or before.strip() and not ends_sentence(before):
        return None
    if not after.strip() and not at(i + 2).strip():
        return None  # nothing under it
    for j, between in ((i - 1, ""), (i + 1, ""), (i - 2, before), (i + 2, after)):
        if not between.strip() and same_numbering(line, at(j)):
            return None  # an item of a list: its items stand together
    return title[0]


def _heading(start: int, end: int, title: str, level: int) -> Block:
    """A heading block; a heading that asks a question is a question line
    (which still heads the section under it)."""
    return Block(start, end, "question" if title.endswith("?") else "heading", level,
                 heading_title(title))
