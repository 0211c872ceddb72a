"""What an answer is, given a question and what retrieval found: candidates,
scores, the choice, the short answer and abstention, and the gate a chat
model's claims must pass. `Assistant` retrieves and wires; this decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..chunking import Span, looks_english, terms, words
from ..store.records import Hit
from ..store.records import Records as Store
from . import Answer, rows
from .extractive import Ranker, answer_at, answer_type, confident, has_type, select
from .span import checked, short_answer

_YES_NO = re.compile(r"(?i)(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|"
                     r"should|may|might|must)\b")
ACROSS_NOTE = ("the question is in another language than the documents: "
               "QA_MODEL=multilingual answers across languages")


@dataclass
class Answerer:
    """One question's answering over one retrieval.

    Attributes:
        question: the question as asked.
        vector: the query's unit embedding.
        records: the index snapshot the hits come from.
        hits: the retrieved chunks, best first.
        idf: the collection's inverse document frequency.
        model: the embedding model's name (it picks the fitted ranker).
        min_score: QA_MIN_SCORE, or negative for the fitted threshold.
        max_chars: longest answer text.
        context: terms of the conversation, for a follow-up.
        claim_coverage: share of the question's terms a chat model's claims must take up.
        reading: whether qa's answer model reads the candidates (QA_ANSWER_MODEL).
        narrow: the hits kept when the answer model does not read this
            question (retrieval is wider for the model: Settings.read_k); 0 keeps all.
    """

    question: str
    vector: np.ndarray
    records: Store
    hits: Sequence[Hit]
    idf: Callable[[str], float]
    model: str
    min_score: float
    max_chars: int
    context: set[str] | None
    claim_coverage: float
    reading: bool = False
    narrow: int = 0
    _extracted: Answer | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        fitted = Ranker.for_model(self.model, self.reading)
        self.ranker, threshold, self.crossing = fitted.choose(self.question, self.records,
                                                              self.hits)
        self._english_only = fitted.across is None
        if self.narrow and not self.ranker.reads:
            self.hits = self.hits[:self.narrow]
        self.threshold = threshold if self.min_score < 0 else self.min_score

    def extractive(self) -> Answer:
        """The sentence(s) that answer, with the short answer marked, or "not
        in the documents" (with a note when the question's language is why).
        Made once: a named document's search asks first whether it answers."""
        if self._extracted is None:
            self._extracted = self._extract()
        return self._extracted

    def _extract(self) -> Answer:
        table = rows.lookup(self.question, self.records, [
            row for hit in self.hits for row in self.records.chunk_sentence_rows[hit.row]])
        if table is not None:  # the question names a table row's key: that row answers
            span = self.records.sentence_spans[table.row]
            answer = answer_at(self.records, table.row, Span(span.start, span.end), 1.0)
            answer.span = table.cell
            return answer
        answer = select(self.question, self.vector, self.records, self.hits, self.idf,
                        self.ranker, self.threshold, self.max_chars, self.context, self.narrow)
        if answer.found:
            # The date, number, name or place a typed question asks for: the
            # answer model's span head where it read the sentence and its
            # span passes `checked`, else the rules. Held-out training
            # articles' typed questions on the answer sentence (1,136), exact
            # match: rules 0.425, rules then head 0.517, head then rules 0.672.
            answer.span = checked(self.question, answer.text, answer.span) \
                or short_answer(self.question, answer.text)
        elif not answer.found and self.crossing and self._english_only:
            answer.note = ACROSS_NOTE
        return answer

    def gate(self, shown: Sequence[Hit], asked: str) -> Callable[[list[int], str], bool]:
        """Whether a chat model's verified claims answer the question: their
        supporting sentences score as answers (the extractive abstention
        threshold), and the claims take up the question's terms (`asked`: the
        question the model answered), say something beyond them (a yes/no
        question aside), and hold the number or date the question asks for."""
        union = list({h.row: h for h in [*self.hits, *shown]}.values())
        asked_terms = set(terms(asked))
        kind = answer_type(self.question)
        sure: set[int] | None = None

        def answers(rows: list[int], said: str) -> bool:
            nonlocal sure
            if sure is None:  # scored once, however many times the model's text is checked
                sure = confident(self.question, self.vector, self.records, union, self.idf,
                                 self.ranker, self.threshold, self.context, self.narrow)
            said_terms = set(terms(said))
            taken = len(asked_terms & said_terms) / max(1, len(asked_terms))
            tells = bool(said_terms - asked_terms) or _YES_NO.match(self.question) is not None
            typed = kind not in ("number", "date") or \
                has_type(kind, said, set(words(self.question)))
            supported = bool(sure & set(rows)) or self._read_as_answering(rows)
            return supported and taken >= self.claim_coverage and tells and typed

        return answers

    def _read_as_answering(self, rows: list[int]) -> bool:
        """Whether qa's answer model reads one of these sentences (a verified
        claim's support) as answering the question, at the threshold fitted
        with it: a right claim the ranker alone doubts is kept. English
        questions over English text only, as the model reads."""
        from .extractive import reader_model

        model = reader_model()
        if model is None or not rows or not self._english_only or self.crossing:
            return False
        fitted = Ranker.for_model(self.model, reading=True)
        texts = [self.records.passage(self.records.sentence_doc[r],
                                      self.records.sentence_spans[r].start,
                                      self.records.sentence_spans[r].end) for r in rows]
        if not fitted.reader_threshold or not looks_english(f"{self.question} {' '.join(texts)}"):
            return False
        reading = model.read(self.question, texts)
        return bool((reading.probabilities >= fitted.reader_threshold).any())
