"""Questions about cited works: "Which conference did the paper on X appear
in?", "Who wrote ...?", "When was it published?" may be answered from a
reference entry (the whole entry); a question about the document itself
("this paper") and any other never is."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..chunking import terms
from ..store.records import Records as Store
from . import passage

_CITED_WORK = re.compile(r"\b(?:papers?|conference|journal|proceedings|workshop|venue|"
                         r"published|publication|appeared in|cited|citation|arxiv|preprint|"
                         r"who wrote|authors? of)\b", re.I)
_ITSELF = re.compile(r"\b(?:this|the present|our|the current)\s+(?:paper|article|work|study|"
                     r"survey|review)\b", re.I)


# The words that ask about a publication say nothing of which one.
_ASKING = "paper papers conference journal proceedings workshop venue published publication " \
    "appeared cited citation arxiv preprint wrote authors author"


def cites_works(question: str) -> bool:
    """Whether the question asks about a cited work."""
    return bool(_CITED_WORK.search(question)) and not _ITSELF.search(question)


def entries(question: str, store: Store, rows: list[int],
            idf: Callable[[str], float]) -> list[int]:
    """The candidates that lie in a reference entry holding at least half of
    the question's own terms (IDF-weighted; the words that ask about a
    publication aside): the work the question names. Empty when none does."""
    wanted = set(terms(question)) - set(terms(_ASKING))
    found = []
    for row in rows:
        if store.sentence_kind[row] != "reference":
            continue
        first, last = entry(store, row)
        held = set().union(*(terms(passage.text(store, r)) for r in range(first, last + 1)))
        if passage.share(wanted, held, idf) >= 0.5:
            found.append(row)
    return found


def entry(store: Store, row: int) -> tuple[int, int]:
    """First and last row of the reference entry (its paragraph) holding `row`."""
    def same(other: int) -> bool:
        return 0 <= other < len(store.sentence_spans) and \
            store.sentence_kind[other] == "reference" and passage.same_paragraph(store, other, row)

    first = last = row
    while last - first < 8 and same(last + 1):
        last += 1
    while last - first < 8 and same(first - 1):
        first -= 1
    return first, last
