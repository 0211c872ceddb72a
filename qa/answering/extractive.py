"""Extractive answers: pick the sentence(s) that answer, cite them, or abstain.

Candidate sentences come from the retrieved chunks. Each is scored the way
answer-sentence selection systems score them: meaning (cosine to the
question), lexical support (IDF-weighted coverage of the question's terms, in
the sentence and in its neighbours, so "he said" after a sentence naming the
speaker counts), the expected answer type ("who" wants a name not in the
question, "how many" a number, "when" a date, "where" a place), and novelty (a
sentence that only restates the question answers nothing).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..chunking import STOPWORDS, UNSPACED_CHAR, Span, language, terms, trim, words
from ..documents import normalize
from ..documents.structure import NOT_ANSWERS, heading
from ..errors import QAError
from ..store.records import Hit
from ..store.records import Records as Store
from . import NOT_FOUND, Answer, Source, cited, passage

# Sentence-score features. A model fitted on the tuning data weighs them
# (`Ranker`, benchmarks/fit_ranker.py).
FEATURES = (
    "dense",     # cosine(question, sentence)
    "cover",     # IDF-weighted share of question terms in the sentence
    "window",    # ... in the sentence with the one before it (coreference: "he said")
    "type",      # holds the expected answer type, not already in the question
    "chunk",     # cosine(question, best chunk holding the sentence)
    "stale",     # the sentence adds (almost) nothing to the question's own words
    "entity",    # share of the question's names found in the sentence or the one before
)
# The answer model's log-odds that the sentence answers (reader.py), for an
# English question with a ranker fitted with it; the READER_CANDIDATES
# sentences the base ranker likes best are read, the rest get READER_FLOOR.
READER = "reader"
# Sentences read per question: the model takes about 4.5 ms a sentence on 2
# cores (5: 19 ms, 8: 41, 12: 60, 16: 71, 24: 108); the target is a warm ask
# of at most 100 ms with the model on.
READER_CANDIDATES = 12
READER_FLOOR = -8.0
# The features that still tell when the question and the passages are in
# different languages (no shared terms): meaning, and the answer type.
ACROSS = ("dense", "type", "chunk")
RANKERS = Path(__file__).with_name("rankers")


@dataclass(frozen=True)
class Ranker:
    """A conditional logit over one question's candidate sentences and a "not in
    the documents" option: P(sentence i answers) = exp(s_i) / (exp(none) +
    sum_j exp(s_j)), with s = features @ weights. Fitted by
    benchmarks/fit_ranker.py on the dev set and the SQuAD 2.0 sample only (the
    project's tuning data; XQuAD and the PDF sets are held out), per embedding
    model, since each model's cosines sit at its own level.

    Attributes:
        weights: one per FEATURES entry, on the raw features.
        none: the utility of "not in the documents".
        threshold: the cross-validated probability below which qa abstains,
            for questions in the tuning data's language (English). In other
            languages the probabilities sit lower (fewer shared terms, other
            cosine levels) and no data sets a threshold, so qa answers there.
        across: for a multilingual model, the ranker for a question in
            another language than the passages, fitted on the ACROSS features
            only. It never abstains: the tuning data has no question in another
            language to set its threshold.
        languages: for a multilingual model, a ranker per language with
            native questions to fit it (qa_train/'s Chinese, Arabic, Russian
            and Thai sets; `fit_ranker.py --native`), each with its own threshold,
            for a question in that language over passages in it.
    """

    weights: np.ndarray
    none: float
    threshold: float
    across: Ranker | None = None
    # With the answer model: its weights include READER last; `base` is the
    # ranker without it (the prefilter, and for questions the model cannot
    # read); qa abstains when the answer model's probability of the chosen
    # sentence is under `reader_threshold` and the base ranker's best
    # probability is under `threshold` (its own, as without the model), both:
    # the model never refuses what the ranker alone would answer.
    base: Ranker | None = None
    reader_threshold: float = 0.0
    languages: dict[str, Ranker] = field(default_factory=dict)

    @property
    def reads(self) -> bool:
        return len(self.weights) == len(FEATURES) + 1

    @classmethod
    @functools.cache
    def for_model(cls, model: str, reading: bool = False) -> Ranker:
        """The ranker fitted with this embedding model's vectors (the packaged
        model's for any model without one of its own); with `reading`, the
        one fitted with the answer model's score, where there is one."""
        path = RANKERS / f"{ranker_name(model)}.json"
        if not path.exists():
            path = RANKERS / "default.json"
        if reading and path.with_name(f"{path.stem}-reader.json").exists():
            path = path.with_name(f"{path.stem}-reader.json")
        fix = ("reinstall qa (pip install -e .) or refit it with: python "
               "benchmarks/fit_ranker.py PATH/squad_v2_dev_sample/small.json")
        try:
            fitted = json.loads(path.read_text(encoding="utf-8"))
            if fitted["features"] not in (list(FEATURES), [*FEATURES, READER]):
                raise QAError(f"the answer ranker {path} was fitted on other features; {fix}")
            ranker = cls._parse(fitted)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            reason = "is missing" if isinstance(exc, FileNotFoundError) else \
                f"is damaged ({type(exc).__name__})"
            raise QAError(f"the answer ranker {path} {reason}; {fix}") from None
        for part in (ranker, ranker.base, ranker.across, *ranker.languages.values()):
            if part is not None and (part.weights.shape not in ((len(FEATURES),),
                                                                (len(FEATURES) + 1,))
                                     or not np.isfinite(part.weights).all()):
                raise QAError(f"the answer ranker {path} is damaged (bad weights); {fix}")
        return ranker

    @classmethod
    def _parse(cls, fitted: dict) -> Ranker:
        def part(key: str) -> Ranker | None:
            return cls._parse(fitted[key]) if fitted.get(key) else None

        return cls(np.array(fitted["weights"], dtype=np.float32), float(fitted["none"]),
                   float(fitted.get("threshold", 0.0)), part("across"), part("base"),
                   float(fitted.get("reader_threshold", 0.0)),
                   {lang: cls._parse(own) for lang, own in fitted.get("languages", {}).items()})

    def choose(self, question: str, store: Store, hits: Sequence[Hit]
               ) -> tuple[Ranker, float, bool]:
        """The ranker for this question, its abstention threshold, and whether
        the question is in another language than the best retrieved passage.

        Such a question gets the `across` ranker, which never abstains; with a
        model that has none (an English-only one), the fitted threshold stays.
        A question in English gets the fitted threshold; one in a language
        with a ranker of its own (fitted on native questions) gets that ranker
        and its threshold; one in another language, the passages' too, gets
        none: no tuning data sets one there.
        """
        asked = _language_of(question)
        passages = passage_language(store, hits)
        crossing = passages is not None and asked != passages
        if self.reads:  # the answer model reads English questions over English text
            if asked == "en" and not crossing and reader_model() is not None:
                return self, self.threshold, crossing
            assert self.base is not None
            return self.base.choose(question, store, hits)
        if crossing and self.across is not None:
            return self.across, self.across.threshold, crossing
        native = None if crossing else self.languages.get(asked)
        if native is not None:
            return native, native.threshold, crossing
        if crossing or asked == "en":
            return self, self.threshold, crossing
        return self, 0.0, crossing

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """P(each candidate answers), given the candidates' FEATURES rows."""
        scores = matrix.astype(np.float64) @ self.weights
        top = max(float(scores.max(initial=self.none)), self.none)
        odds = np.exp(scores - top)
        return odds / (odds.sum() + np.exp(self.none - top))


PROSE_WORDS = 4  # function words a passage needs before its language is told


def passage_language(store: Store, hits: Sequence[Hit]) -> str | None:
    """The language of the best passages' prose, or None when they hold too
    little to tell: table rows ("room: Quarry; floor: 2"), lists of names and
    code have few function words in any language, and are not taken for
    another language than the question's."""
    prose = [_sentence_text(store, row) for hit in hits[:3]
             for row in store.chunk_sentence_rows[hit.row]
             if store.sentence_kind[row] not in ("row", "figure", "toc", "nav", "reference")]
    tokens = words(" ".join(prose))
    if not tokens:
        return None
    lang = language(tokens)
    if lang in ("zh", "ja", "th", "ko", "ar", "ru", "el", "hi"):  # told by their script
        return lang
    from ..chunking import _function_words

    function = sum(1 for t in tokens if t in STOPWORDS or t in _function_words())
    return lang if function >= PROSE_WORDS else None


@functools.lru_cache(maxsize=4096)
def _language_of(text: str) -> str:
    return language(words(text))


def ranker_name(model: str) -> str:
    """The ranker file's name for an embedding model."""
    from ..embeddings import MULTILINGUAL_NAMES

    return "multilingual-e5-small" if model in MULTILINGUAL_NAMES else "default"


# A neighbouring sentence at least this likely, relative to the best, joins the
# answer (0.25 on the hand-set score scale, SQuAD sample: +1 point, carried
# over to the fitted scale, about 3.8 times wider).
ADJACENT_RATIO = 0.4


# -- expected answer type ------------------------------------------------------
_MONTHS = ("january february march april may june july august september october "
           "november december monday tuesday wednesday thursday friday saturday sunday").split()
_NUMBER_WORDS = set(("one two three four five six seven eight nine ten eleven twelve "
                     "dozen hundred hundreds thousand thousands million millions billion "
                     "billions half twenty thirty forty fifty sixty seventy eighty ninety "
                     "percent").split())
_YEAR = re.compile(r"\b(1\d{3}|20\d{2})s?\b|\b\d{1,2}(st|nd|rd|th) century\b", re.I)
_NUMBER = re.compile(r"\d")
_YEAR_UNSPACED = re.compile(r"(?<!\d)(?:1\d{3}|2[0-5]\d{2})(?!\d)")
_CAPITALIZED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'-]*[a-z][\w'-]*")


# "How many" and "when" in the languages with native questions to fit their
# rankers (qa_train/: 10-30% of those questions ask for one, and 70-99% of
# their answers hold digits).
_NATIVE_TYPES = (
    ("number", re.compile(r"多少|几[个位年次名种项座条家所人天岁倍]|\bсколько\b|(?<!\w)كم(?!\w)|"
                          r"กี่|เท่าไร|เท่าไหร่")),
    ("date", re.compile(r"哪一?年|什么时候|什麼時候|何时|何時|哪一?天|几月|幾月|哪个月|哪個月|"
                        r"\bкогда\b|\bв каком году\b|\bкакого года\b|متى|"
                        r"في أي (?:عام|سنة)|เมื่อไร|เมื่อไหร่|ปีใด|ปีไหน|ปีอะไร|"
                        r"วันที่เท่า(?:ไร|ไหร่)|วันใด|วันไหน|เดือนใด|เดือนไหน")),
)


def answer_type(question: str) -> str | None:
    """'number', 'date', 'name' or 'place' when the question asks for one
    (in Chinese, Russian, Arabic and Thai: 'number' or 'date')."""
    q = normalize(question).lower()
    if re.search(r"\bhow (many|much|long|old|far|large|big|tall|high|often)\b|"
                 r"\bwhat (percentage|percent|number|proportion|amount)\b", q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (year|date|day|month|century|decade|time)\b|"
                 r"\bwhich (year|date|day|month|century|decade)\b", q):
        return "date"
    if re.search(r"\bwhere\b|\bwhat (country|city|place|region|state|province|town)\b|"
                 r"\bwhich (country|city|place|region|state|province|town)\b", q):
        return "place"
    if re.search(r"\bwho\b|\bwhom\b|\bwhose\b", q):
        return "name"
    # the date first: "哪一年" holds no number word, "几月" asks for a date
    for kind, pattern in sorted(_NATIVE_TYPES, key=lambda t: t[0] != "date"):
        if pattern.search(q):
            return kind
    return None


def has_type(kind: str | None, sentence: str, question_words: set[str]) -> bool:
    """Whether the sentence holds a value of the expected type the question lacks."""
    if kind is None:
        return False
    text = normalize(sentence)
    if kind == "number":
        tokens = [w for w in words(text) if w not in question_words]
        return any(_NUMBER.search(w) or w in _NUMBER_WORDS for w in tokens)
    if kind == "date":
        years = [m.group(0) for m in _YEAR.finditer(text)]
        if UNSPACED_CHAR.search(text):  # "1903年", Thai years (B.E. 2533) between letters
            years += [m.group(0) for m in _YEAR_UNSPACED.finditer(text)]
        if any(y.lower() not in question_words for y in years):
            return True
        return any(w in _MONTHS and w not in question_words for w in words(text))
    names = [m.group(0).lower() for m in _CAPITALIZED.finditer(text)]
    return any(n not in question_words and n not in STOPWORDS for n in names)


# -- scoring -----------------------------------------------------------------------
def coverage(question_terms: set[str], sentence_terms: set[str],
             idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the question's terms found in the sentence."""
    total = sum(idf(t) for t in question_terms)
    if total <= 0:
        return 0.0
    return sum(idf(t) for t in question_terms & sentence_terms) / total


@dataclass
class Candidates:
    """One question's candidate sentences: store rows, feature matrix (with
    the READER column when the ranker reads), and the answer model's reading
    (probability and short-answer offsets) of the sentences it read."""

    rows: list[int]
    matrix: np.ndarray
    read: dict[int, tuple[float, tuple[int, int] | None]]


def candidates(question: str, query_vector: np.ndarray, store: Store, hits: Sequence[Hit],
               idf: Callable[[str], float], ranker: Ranker,
               context_terms: set[str] | None = None) -> Candidates:
    """The candidates with the features `ranker` weighs: the base FEATURES,
    and for a ranker that reads, the answer model's log-odds for the
    READER_CANDIDATES sentences the base ranker scores highest."""
    rows, matrix = features(question, query_vector, store, hits, idf, context_terms)
    model = reader_model() if ranker.reads else None
    if model is None:
        return Candidates(rows, matrix, {})
    assert ranker.base is not None
    order = np.argsort(-ranker.base.probabilities(matrix), kind="stable")[:READER_CANDIDATES]
    reading = model.read(question, [_sentence_text(store, rows[i]) for i in order])
    column = np.full((len(rows), 1), READER_FLOOR, dtype=np.float32)
    column[order, 0] = np.maximum(reading.logits, READER_FLOOR)
    read = {rows[i]: (float(p), span) for i, p, span in
            zip(order, reading.probabilities, reading.spans)}
    return Candidates(rows, np.hstack([matrix, column]), read)


def reader_model():  # type: ignore[no-untyped-def]
    """The shipped answer model (None when the package has none)."""
    from .reader import AnswerModel

    return AnswerModel.shared()


def features(question: str, query_vector: np.ndarray, store: Store, hits: Sequence[Hit],
             idf: Callable[[str], float],
             context_terms: set[str] | None = None) -> tuple[list[int], np.ndarray]:
    """Candidate sentence rows from the hits, and their FEATURES matrix."""
    best_chunk: dict[int, float] = {}
    for hit in hits:
        # The "chunk" feature was fitted on the mean of the chunk's sentence
        # vectors; retrieval embeds chunks whole, so the feature keeps the mean.
        dense = float(store.chunk_means[hit.row] @ query_vector)
        for row in store.chunk_sentence_rows[hit.row]:
            best_chunk[row] = max(dense, best_chunk.get(row, -1.0))
    cites = cited.cites_works(question)
    rows = answerable(store, sorted(best_chunk), cites)
    if cites:  # the reference entries that hold the work named, when one does
        rows = cited.entries(question, store, rows, idf) or rows
    if not rows:
        return rows, np.zeros((0, len(FEATURES)), dtype=np.float32)
    # A follow-up with no content words of its own ("Why?") asks about the
    # conversation's terms.
    q_terms = set(terms(question)) or set(context_terms or ())
    idf = functools.cache(idf)  # the same few question terms, weighed for every candidate
    q_words = set(words(question)) | q_terms
    q_names = set(terms(" ".join(m.group(0) for m in _CAPITALIZED.finditer(question))))
    kind = answer_type(question)
    dense = store.sentence_vectors[rows] @ query_vector
    matrix = np.zeros((len(rows), len(FEATURES)), dtype=np.float32)
    for i, row in enumerate(rows):
        text = _sentence_text(store, row)
        s_terms = set(terms(text))
        # The sentence before and the section's headings (a FAQ question
        # over its answer) are the sentence's context.
        window = s_terms | _previous_terms(store, row) | _section_terms(store, row)
        cover_window = coverage(q_terms, window, idf)
        if context_terms:
            cover_window = max(cover_window, 0.5 * cover_window +
                               0.5 * coverage(q_terms | context_terms, window, idf))
        novelty = len(s_terms - q_terms) / max(1, len(s_terms))
        names = len(q_names & window) / len(q_names) if q_names else 1.0
        matrix[i] = (dense[i], coverage(q_terms, s_terms, idf), cover_window,
                     has_type(kind, text, q_words), best_chunk[row], novelty < 0.25, names)
    return rows, matrix


def confident(question: str, query_vector: np.ndarray, store: Store, hits: Sequence[Hit],
              idf: Callable[[str], float], ranker: Ranker, min_score: float,
              context_terms: set[str] | None = None, ranker_k: int = 0) -> set[int]:
    """The candidate sentences (store rows) qa would answer with rather than
    abstain on: the ranker's probability (the base ranker's, for one that
    reads) at least `min_score`, or, where the
    answer model read the sentence, its probability at least the ranker's
    `reader_threshold` (the rule `select` applies to its choice)."""
    found = candidates(question, query_vector, store, hits, idf, ranker, context_terms)
    if not found.rows:
        return set()
    probabilities = unsure_of(ranker, found, store, hits, ranker_k)
    return {row for row, p in zip(found.rows, probabilities.tolist())
            if p >= min_score or (row in found.read and
                                  found.read[row][0] >= ranker.reader_threshold)}


def unsure_of(ranker: Ranker, found: Candidates, store: Store, hits: Sequence[Hit],
              ranker_k: int = 0) -> np.ndarray:
    """The probabilities abstention compares with the ranker's threshold. For
    a ranker that reads: its base ranker's, as without the model, over the
    candidates of the first `ranker_k` hits (the ranker's own retrieval; 0:
    all) and without the READER column (0 for the other candidates), so the
    model only adds answers the ranker alone would refuse."""
    if not (ranker.reads and ranker.base is not None):
        return ranker.probabilities(found.matrix)
    own = near(store, hits, found.rows, ranker_k)
    p = np.zeros(len(found.rows))
    if own.any():
        p[own] = ranker.base.probabilities(found.matrix[own, :-1])
    return p


def near(store: Store, hits: Sequence[Hit], rows: list[int], k: int) -> np.ndarray:
    """Which candidate rows are sentences of the first `k` hits (all for 0)."""
    if not k:
        return np.ones(len(rows), dtype=bool)
    kept = {r for hit in hits[:k] for r in store.chunk_sentence_rows[hit.row]}
    return np.array([r in kept for r in rows], dtype=bool)


def select(question: str, query_vector: np.ndarray, store: Store, hits: Sequence[Hit],
           idf: Callable[[str], float], ranker: Ranker, min_score: float,
           max_chars: int = 300, context_terms: set[str] | None = None,
           ranker_k: int = 0) -> Answer:
    """Pick the answer sentence(s) among the retrieved chunks, or abstain.

    Args:
        question: the user's question.
        query_vector: its unit embedding (with follow-up context folded in).
        store: the index snapshot the hits come from.
        hits: retrieved chunks, best first.
        idf: inverse document frequency of a term in the collection.
        ranker: weighs the candidates' features.
        min_score: answers less likely than this abstain (for a ranker that
            reads: only when the answer model is also under its threshold).
        max_chars: longest answer text.
        context_terms: terms from the conversation (follow-ups), weighted lower.
        ranker_k: the hits the ranker alone would read (the rest come from
            the answer model's wider retrieval); 0 for all.
    """
    found = candidates(question, query_vector, store, hits, idf, ranker, context_terms)
    rows = found.rows
    if not rows:
        return Answer(NOT_FOUND, False)
    scores = ranker.probabilities(found.matrix)
    order = np.argsort(-scores, kind="stable")
    best, best_score = rows[order[0]], float(scores[order[0]])
    # With the answer model, qa abstains when both it and the ranker are unsure
    # (benchmarks/fit_ranker.py fits the pair on the tuning questions).
    read = found.read[best][0] if found.read and best in found.read else None
    wide = passage.asks_passage(question)
    # a reference entry is a candidate only when it holds the work the
    # question names (cited_entries): that is its evidence
    named_work = store.sentence_kind[best] == "reference"
    sure = float(unsure_of(ranker, found, store, hits, ranker_k).max()) if ranker.reads \
        else best_score
    if sure < min_score and (read is None or read < ranker.reader_threshold) \
            and not named_work:
        # explain, describe, compare: refused only when no top candidate is about it
        about = next((i for i in order[:passage.CANDIDATES]
                      if passage.about(question, store, rows[i], idf)), None) if wide else None
        if about is None:
            return Answer(NOT_FOUND, False, score=best_score)
        best, best_score = rows[about], float(scores[about])
    first = last = best
    for i in order[1:3]:
        other = rows[i]
        if abs(other - best) == 1 and scores[i] >= ADJACENT_RATIO * best_score \
                and store.sentence_doc[other] == store.sentence_doc[best]:
            lo, hi = min(best, other), max(best, other)
            gap = store.document(store.sentence_doc[best]).text[
                store.sentence_spans[lo].end:store.sentence_spans[hi].start]
            if "\n\n" not in gap and store.sentence_kind[other] == store.sentence_kind[best] \
                    and store.sentence_spans[hi].end - store.sentence_spans[lo].start <= max_chars:
                first, last = lo, hi  # same paragraph, and short enough together
            break
    first, last = _complete(store, first, last, max_chars)
    if store.sentence_kind[best] == "reference":  # a cited work: its whole entry
        first, last = cited.entry(store, best)
    if wide:  # explain, describe, compare: the passage around the answer
        first, last = passage.window(store, first, last, max_chars)
        span = Span(store.sentence_spans[first].start, store.sentence_spans[last].end)
        return answer_at(store, best, span, best_score)
    span = Span(store.sentence_spans[first].start, store.sentence_spans[last].end)
    if span.end - span.start > max_chars:
        span = _clause_window(store.document(store.sentence_doc[best]).text, span,
                              set(terms(question)), idf, max_chars, answer_type(question))
    answer = answer_at(store, best, span, best_score)
    short = found.read.get(best, (0.0, None))[1] if found.read else None
    if short is not None:  # the span head's short answer, as offsets in the answer text
        at = store.sentence_spans[best].start + short[0] - span.start
        if 0 <= at and at + short[1] - short[0] <= len(answer.text):
            answer.span = (at, at + short[1] - short[0])
    return answer


# A match starts only where a run of spaces starts: tried at every space of
# the run, `\s+(?=\()` was quadratic in it.
_CLAUSE = re.compile(r"(?<=[,;:])\s+|(?<!\s)\s+(?=\()|(?<!\s)\s+[-\u2013\u2014]\s+")


_LEANS_BACK = re.compile(
    r"^\W*(it|its|they|their|them|he|his|she|her|this|these|those|that|such|but|however|"
    r"there|then|thus|so|also|both|the latter|the former)\b", re.I)


def _complete(store: Store, first: int, last: int, max_chars: int) -> tuple[int, int]:
    """Add a sentence that leans on the answer ("It ...", "But ...") or that the
    answer leans on, when it is in the same paragraph and the whole still fits."""

    def text(row: int) -> str:
        return _sentence_text(store, row)

    def joinable(a: int, b: int) -> bool:
        if not (0 <= a and b < len(store.sentence_spans)) or \
                store.sentence_doc[a] != store.sentence_doc[b]:
            return False
        doc = store.document(store.sentence_doc[a]).text
        gap = doc[store.sentence_spans[b - 1].end:store.sentence_spans[b].start]
        return "\n\n" not in gap and store.sentence_kind[a] not in NOT_ANSWERS and \
            store.sentence_kind[b] not in NOT_ANSWERS and \
            store.sentence_spans[b].end - store.sentence_spans[a].start <= max_chars

    if joinable(first, last + 1) and _LEANS_BACK.match(text(last + 1)):
        last += 1
    if first == last and joinable(first - 1, last) and _LEANS_BACK.match(text(first)):
        first -= 1
    return first, last


def _clause_window(text: str, span: Span, q_terms: set[str], idf: Callable[[str], float],
                   max_chars: int, kind: str | None = None) -> Span:
    """The run of clauses within a too-long sentence that best covers the question
    (and holds the expected answer type, when there is one)."""
    cuts = [span.start] + [span.start + m.end() for m in
                           _CLAUSE.finditer(text[span.start:span.end])] + [span.end]
    best, best_key = Span(span.start, span.start + max_chars), (-1.0, 0)
    for i in range(len(cuts) - 1):
        for j in range(i + 1, len(cuts)):
            if cuts[j] - cuts[i] > max_chars:
                break
            piece = text[cuts[i]:cuts[j]]
            key = (coverage(q_terms, set(terms(piece)), idf)
                   + 0.5 * has_type(kind, piece, q_terms), cuts[j] - cuts[i])
            if key > best_key:
                best, best_key = Span(cuts[i], cuts[j]), key
    return trim(text, best, ",;:")


_sentence_text = passage.text  # one definition of a sentence's text


def answerable(store: Store, rows: list[int], references: bool = False) -> list[int]:
    """The rows that can be an answer: content, not a heading, question line,
    table of contents, navigation, figure text or (unless `references`, for a
    question about a cited work) reference entry; captions only when no
    other sentence is a candidate."""
    barred = NOT_ANSWERS - {"reference"} if references else NOT_ANSWERS
    content = [r for r in rows if store.sentence_kind[r] not in barred]
    prose = [r for r in content if store.sentence_kind[r] != "caption"]
    return prose or content


def _section_terms(store: Store, row: int) -> set[str]:
    section = store.sentence_section[row]
    return set(terms(heading(section))) if section else set()


def _previous_terms(store: Store, row: int) -> set[str]:
    """Terms of the sentence before: a pronoun usually refers back, not forward."""
    if row > 0 and store.sentence_doc[row - 1] == store.sentence_doc[row]:
        return set(terms(_sentence_text(store, row - 1)))
    return set()


def answer_at(store: Store, row: int, span: Span, score: float) -> Answer:
    doc = store.document(store.sentence_doc[row])
    context = _context(store, row, row)
    context = Span(min(context.start, span.start), max(context.end, span.end))
    text = doc.text[span.start:span.end]
    sources = [Source(
        source=doc.source, text=text, start=span.start, end=span.end,
        page=doc.page_at(span.start), score=score, path=doc.path,
        context=doc.text[context.start:context.end], context_start=context.start,
    )]
    return Answer(text, True, sources, score)


def _context(store: Store, first: int, last: int) -> Span:
    """The sentence before and after the answer, within the same document."""
    doc = store.sentence_doc[first]
    lo = first - 1 if first > 0 and store.sentence_doc[first - 1] == doc else first
    hi = last + 1 if last + 1 < len(store.sentence_spans) and \
        store.sentence_doc[last + 1] == doc else last
    return Span(store.sentence_spans[lo].start, store.sentence_spans[hi].end)
