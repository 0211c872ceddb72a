"""Passage answers: a question that asks to explain, describe or compare is
answered with the sentences around the best one in its paragraph (2-4, one
highlighted passage), not with one sentence; and it is refused only when
the best sentence is not about the question at all."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..chunking import terms
from ..documents.structure import NOT_ANSWERS
from ..store.records import Records as Store

# Questions over a whitespace-collapsed text of at most 2,000 characters
# (Assistant._clean); `.{1,80}?` is bounded.
_PASSAGE = re.compile(
    r"^\W*(?:please\s+|can you\s+|could you\s+)?(?:explain|describe|discuss|elaborate|outline|"
    r"compare|contrast|walk me through)\b|"
    r"\bhow (?:does|do|did|is|are|was|were) .{1,80}? (?:differ|compare|work|works|function)\b|"
    r"\bwhat (?:is|are|were|was) the (?:main |key |major )?(?:differences?|similarit(?:y|ies)|"
    r"advantages?|disadvantages?|benefits?|drawbacks?|limitations?|challenges?|steps|stages|"
    r"components|implications|consequences)\b", re.I)
# The words that ask for a passage say nothing of what it is about.
_ASKING = "explain describe discuss elaborate outline compare contrast walk differ difference " \
    "differences work function main key major"
PASSAGE_SENTENCES = 4
CANDIDATES = 5  # the ranker's top sentences looked at for one about the question
ABOUT = 0.5  # IDF-weighted share of the question's terms the passage must hold


def asks_passage(question: str) -> bool:
    """Whether the question asks to explain, describe or compare."""
    return _PASSAGE.search(question) is not None


def about(question: str, store: Store, row: int, idf: Callable[[str], float]) -> bool:
    """Whether the sentence (with its neighbours and section heading) holds at
    least ABOUT of the question's own terms, weighted by IDF."""
    wanted = set(terms(question)) - set(terms(_ASKING))
    first, last = window(store, row, row, 10_000)
    held: set[str] = set(terms(store.sentence_section[row] or ""))
    for r in range(first, last + 1):
        held |= set(terms(text(store, r)))
    return share(wanted, held, idf) >= ABOUT


def share(wanted: set[str], held: set[str], idf: Callable[[str], float]) -> float:
    """The IDF-weighted share of the `wanted` terms that are `held` (0 for none)."""
    total = sum(idf(t) for t in wanted)
    return sum(idf(t) for t in wanted & held) / total if total > 0 else 0.0


def window(store: Store, first: int, last: int, max_chars: int) -> tuple[int, int]:
    """First and last row of the passage around rows first..last: the
    sentences after them in their paragraph, then before them, up to
    PASSAGE_SENTENCES and max_chars."""
    row = first
    for step in (1, -1):
        while last - first + 1 < PASSAGE_SENTENCES:
            nxt = last + 1 if step > 0 else first - 1
            lo, hi = min(first, nxt), max(last, nxt)
            if not _joins(store, nxt, row) or \
                    store.sentence_spans[hi].end - store.sentence_spans[lo].start > max_chars:
                break
            first, last = lo, hi
    return first, last


def _joins(store: Store, other: int, row: int) -> bool:
    """Whether `other` is an answer sentence of `row`'s paragraph."""
    return 0 <= other < len(store.sentence_spans) and \
        store.sentence_kind[other] not in NOT_ANSWERS and same_paragraph(store, other, row)


def same_paragraph(store: Store, a: int, b: int) -> bool:
    """Whether sentence rows `a` and `b` are in one paragraph of one document."""
    if store.sentence_doc[a] != store.sentence_doc[b]:
        return False
    lo, hi = min(a, b), max(a, b)
    text = store.document(store.sentence_doc[a]).text
    return "\n\n" not in text[store.sentence_spans[lo].end:store.sentence_spans[hi].start]


def text(store: Store, row: int) -> str:
    """A sentence's text."""
    span = store.sentence_spans[row]
    return store.document(store.sentence_doc[row]).text[span.start:span.end]
