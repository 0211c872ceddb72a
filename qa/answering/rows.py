"""Table lookups: a question that names a row's key and a column ("What is
the capacity of the Quarry room?") is answered from that row, with the cell
under the named column marked as the short answer.

Readers give a table with a header row one line per row, each cell with its
header: "Room: Quarry; Floor: 2; Capacity: 8; Projector: no." (CSV, xlsx,
docx, HTML and PDF tables alike; documents/text.py `table_rows`). A key is a
cell value the question names ("Quarry", or "floor 2" with its header when
it is a number) that no other row of its document shares under its header.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..chunking import STOPWORDS, terms, words
from ..store.records import Records as Store

MAX_HEADER = 60  # characters: a longer "name:" is running text, not a header


@dataclass
class Cell:
    header: str
    value: str
    start: int  # offset of the value in the row's text


@dataclass
class Lookup:
    row: int  # the sentence row of the table row
    cell: tuple[int, int] | None  # [start, end) of the named column's value in its text


def cells(text: str) -> list[Cell]:
    """The cells of a row line ("Header: value; Header: value."), or [] for
    text that is not one (fewer than two headed cells)."""
    body = text.rstrip()
    body = body[:-1] if body.endswith(".") else body
    out, at = [], 0
    for part in body.split("; "):
        header, colon, value = part.partition(": ")
        if colon and 0 < len(header) <= MAX_HEADER and value.strip():
            out.append(Cell(header.strip(), value.strip(), at + len(header) + 2))
        at += len(part) + 2
    return out if len(out) >= 2 else []


def _phrase(text: str) -> str:
    return " " + " ".join(words(text)) + " "


def lookup(question: str, store: Store, rows: Iterable[int]) -> Lookup | None:
    """The row of `rows` (sentence rows; the table rows among them count)
    whose key the question names, with the cell of the column it names;
    None when no single row is named, or the question names no column and
    asks for more than the row says."""
    table = []
    for row in dict.fromkeys(rows):
        if store.sentence_kind[row] == "row":
            span = store.sentence_spans[row]
            text = store.passage(store.sentence_doc[row], span.start, span.end)
            found = cells(text)
            if found:
                table.append((row, found))
    if not table:
        return None
    asked = _phrase(question)
    def cell_key(row: int, cell: Cell) -> tuple[str, str, str]:
        return store.sentence_doc[row], cell.header.casefold(), cell.value.casefold()

    shared = Counter(cell_key(row, c) for row, found in table for c in found)
    best: list[tuple[int, int, int, list[Cell]]] = []  # key length, retrieval order, row, keys
    for order, (row, found) in enumerate(table):
        keys = [c for c in found if shared[cell_key(row, c)] == 1
                and (_phrase(f"{c.header} {c.value}") in asked or _phrase(c.value) in asked
                     and any(w not in STOPWORDS and not w.isdigit() for w in words(c.value)))]
        if keys:
            best.append((sum(len(c.value) for c in keys), -order, row, keys))
    best.sort(key=lambda item: item[:2], reverse=True)
    if not best or len(best) > 1 and best[1][0] == best[0][0] and \
            store.sentence_doc[best[1][2]] == store.sentence_doc[best[0][2]]:
        return None  # no row named, or two of one table named alike
    _, _, row, keys = best[0]  # (of two documents' tables, the one retrieved first)
    found = dict(table)[row]
    asked_terms = set(terms(question))
    named = {c.header.casefold() for c in keys}
    columns = [(len(set(terms(c.header)) & asked_terms), c) for c in found
               if c.header.casefold() not in named]
    columns = [(n, c) for n, c in columns if n]
    if not columns:  # no column named: the row answers only what it covers whole
        text = " ".join(f"{c.header} {c.value}" for c in found)
        return Lookup(row, None) if asked_terms <= set(terms(text)) else None
    columns.sort(key=lambda item: -item[0])
    if len(columns) > 1 and columns[1][0] == columns[0][0]:
        return Lookup(row, None)  # two columns named: the row holds both
    cell = columns[0][1]
    return Lookup(row, (cell.start, cell.start + len(cell.value)))
