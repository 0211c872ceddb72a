"""Answers about whole documents, without a language model: a digest (an
extractive summary that covers the sections in order), the typed values of
a document (dates, numbers, amounts, e-mail addresses, links, names) or
every sentence that mentions a term, and which documents discuss a term.

Everything reads what the index already holds (every sentence's text, kind,
section and vector), so no text is embedded again: a 40-page PDF is digested
in well under a second. Every sentence given is cited like an answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import naming
from .answering import Answer, Source
from .answering.quantities import digit_values
from .chunking import STOPWORDS, terms
from .documents.structure import NOT_ANSWERS, heading
from .errors import QAError

DIGEST_SENTENCES = 7  # a digest's length, more for long documents (digest_length)
MIN_WORDS = 6  # shorter sentences (labels, list stubs) are not digest material
NEAR_DUPLICATE = 0.9  # cosine over which two sentences say the same
# MMR: how much a sentence's likeness to those chosen counts against it (0.4
# chosen with SUBJECT_WEIGHT below, on the ten tuning papers)
DIVERSITY = 0.4
# What a covering sentence's score adds to its centrality (cosine to the
# mean vector): the share of the title's terms it holds, the commonness of
# its terms in the document, and a penalty when it leans on the sentence
# before. Chosen on the ten tuning papers (benchmarks/summaries.py, abstract
# kept out; ROUGE-2 against it 0.088 with none of them, 0.107 with these;
# 0.5 and 1.0 were worse for each). Re-tuned on them after the title and
# byline fixes (issue 38): subject 0.3 with DIVERSITY 0.4 gave 0.119, against
# 0.113 for 0.2 / 0.5; 0.1, 0.25 and other diversities in 0.3-0.7 less.
SUBJECT_WEIGHT = 0.3
LEXICAL_WEIGHT = 0.2
LEANS_PENALTY = 0.2
QUOTED_PENALTY = 1.0  # another work's first-person claim: taken only when nothing else is
_LEANS_ON = re.compile(r"\W{0,3}(?:it|its|they|their|them|this|these|those|that|such|he|she|"
                       r"his|her|however|thus|therefore|also|then|here|there|the (?:proposed|"
                       r"above|latter|former|same|following))\b", re.I)
_FIRST_PERSON = re.compile(r"\b(?:we|our|ours|us)\b", re.I)
_GENERIC_SECTIONS = frozenset({
    "abstract", "introduction", "background", "methods", "method", "materials", "results",
    "discussion", "conclusion", "conclusions", "analysis", "evaluation", "experiments",
    "data", "model", "approach", "overview", "related", "work", "summary", "future",
    "appendix", "design", "implementation", "limitations", "study", "review"})


def quotes_its_subject(sentence: str, section: str, title_terms: set[str]) -> bool:
    """Whether a sentence speaks for someone else: in the first person, in a
    section named after a thing the document is not about ("3.4 Hyperledger
    Fabric" in a survey), naming that thing mid-sentence ("Because we have
    eliminated non-determinism, Fabric is the first ..."): the thing's own
    claim, quoted, not the document's."""
    if not _FIRST_PERSON.search(sentence):
        return False
    names = [w for w in re.findall(r"[A-Za-z][\w-]{2,}", section)[:4]
             if w.lower() not in _GENERIC_SECTIONS and not (_loose(w) & title_terms)]
    words = sentence.split()
    return any(w in (x.strip(".,;:()") for x in words[1:]) and w[:1].isupper()
               for w in names)


def one_line(text: str) -> str:
    """A sentence with its line breaks (PDF wraps) as spaces, every other character kept."""
    return re.sub(r"\s*\n\s*", " ", text)


def _loose(text: str) -> set[str]:
    """The text's terms, a plural "s" the stemmer keeps dropped ("GPUs", "GPU")."""
    return {t[:-1] if len(t) > 3 and t.endswith("s") else t for t in terms(text)}


def records_of(store: Any, paths: Iterable[str] | None = None) -> Any:
    """The records of the documents at `paths` (None: all): the FAISS store
    holds every document; the Milvus store reads them (`MilvusStore.records`)."""
    if hasattr(store, "entries"):
        return store
    return store.records(store.files() if paths is None else paths)


def digest_length(sentences: int) -> int:
    """About 7 sentences, one more for every 150 sentences past 300, at most 15."""
    return min(15, DIGEST_SENTENCES + max(0, sentences - 300) // 150)


def _rows(records: Any, paths: Sequence[str]) -> list[int]:
    wanted = set(paths)
    return [row for row, doc in enumerate(records.sentence_doc) if doc in wanted]


def _source(records: Any, row: int, score: float) -> Source:
    doc = records.document(records.sentence_doc[row])
    span = records.sentence_spans[row]
    return Source(source=doc.source, text=doc.text[span.start:span.end], start=span.start,
                  end=span.end, page=doc.page_at(span.start), score=score, path=doc.path,
                  context=doc.text[span.start:span.end], context_start=span.start)


# A document's own summary: the section under one of these headings, or the
# paragraph that opens with the word ("Abstract—In recent years ...") in the
# front of the document (_front); at most OWN_SUMMARY_CHARS of it.
OWN_SUMMARY_HEADINGS = frozenset({"abstract", "summary", "executive summary", "synopsis",
                                  "zusammenfassung", "résumé", "resumen", "riassunto"})
OWN_SUMMARY_CHARS = 2_500
_OWN_SUMMARY_WORD = re.compile(r"(?:abstract|summary|executive summary|zusammenfassung)"
                               r"[:.\u2014\u2013-]?", re.I)  # a whole (stripped) heading
_OPENS_OWN_SUMMARY = re.compile(r"\b(?:abstract|summary|executive summary|zusammenfassung)"
                                r"[ \t]{0,4}(?:[:.\u2014\u2013-]|\n)", re.I)
_ENDS_OWN_SUMMARY = re.compile(r"(?:keywords?|key words|index terms|introduction)\b", re.I)
KINDS = {".pptx": "slides", ".xlsx": "a spreadsheet", ".csv": "a spreadsheet",
         ".eml": "an e-mail", ".epub": "an e-book", ".html": "a web page", ".htm": "a web page"}


FRONT_CHARS = 3_000  # a document's own summary starts this early, or in its first fifth


def _front(text: str) -> int:
    return max(len(text) // 5, FRONT_CHARS)


def own_summary(records: Any, path: str) -> list[Source]:
    """The document's own summary (its abstract or executive summary) as
    cited spans in order, the label itself left out; [] when it has none.
    It starts under a heading so named, or after the word and a colon, dash
    or line break in the front of the text (_front); it ends at the next
    heading, a "Keywords" or "Introduction" line, or past OWN_SUMMARY_CHARS
    (short figure labels inside it are passed over; a sentence the page's
    layout took for figure text is kept)."""
    rows = _rows(records, [path])
    doc = records.document(path)
    text = doc.text
    start = None
    for row in rows:
        span = records.sentence_spans[row]
        if span.start > _front(text):
            break
        section = heading(records.sentence_section[row]).strip().lower()
        if records.sentence_kind[row] == "body" and \
                _OWN_SUMMARY_WORD.fullmatch(section.lstrip("0123456789ivx. ").strip()):
            start = span.start
            break
    if start is None:
        label = _OPENS_OWN_SUMMARY.search(text, 0, _front(text))
        if label is None:
            return _unlabelled_summary(records, rows)
        start = label.end()
    out: list[Source] = []
    size = 0
    for row in rows:
        span = records.sentence_spans[row]
        if span.end <= start:
            continue
        kind = records.sentence_kind[row]
        if kind in ("figure", "caption") and len(text[span.start:span.end].split()) < MIN_WORDS:
            continue  # a stray label inside the summary's column
        if kind in NOT_ANSWERS - {"figure"} or \
                out and _ENDS_OWN_SUMMARY.match(text, span.start, span.end):
            break
        lo = max(start, span.start)
        lo += len(text[lo:span.end]) - len(text[lo:span.end].lstrip())
        if size + span.end - lo > OWN_SUMMARY_CHARS or lo >= span.end:
            break
        out.append(Source(source=doc.source, text=text[lo:span.end], start=lo, end=span.end,
                          page=doc.page_at(lo), score=1.0, path=doc.path,
                          context=text[lo:span.end], context_start=lo))
        size += span.end - lo
    return out


_KEYWORDS = re.compile(r"(?:keywords?|key words|index terms)\s{0,3}[:.\u2014\u2013-]", re.I)
_INTRODUCTION = re.compile(r"(?:\d{1,2}\.?|[IV]{1,3}\.)?\s{0,3}introduction", re.I)
_FRONT_MATTER = re.compile(r"©|\bcopyright\b|creative commons|\bdoi\b|\blicen[cs]ed?\b",
                           re.I)
SUMMARY_LINE = 50  # characters: an abstract's lines run the page's width, a sidebar's do not


def _unlabelled_summary(records: Any, rows: list[int]) -> list[Source]:
    """An abstract set without its label: the paragraph of running text,
    lines the page's width (not a sidebar's), just above a "Keywords:" line
    in the front of the text (_front); [] when there is none."""
    if not rows:
        return []
    doc = records.document(records.sentence_doc[rows[0]])
    text = doc.text
    spans = [records.sentence_spans[r] for r in rows]
    at = next((i for i, (row, span) in enumerate(zip(rows, spans))
               if span.start <= _front(text) and (
                   _KEYWORDS.match(text, span.start, span.end) or
                   records.sentence_kind[row] == "heading" and _INTRODUCTION.fullmatch(
                       text[span.start:span.end].strip()))), None)
    if not at:
        return []
    first = at
    size = 0
    while first > 0:
        row, span = rows[first - 1], spans[first - 1]
        lines = text[span.start:span.end].split("\n")
        if "@" in lines[-1] or "://" in lines[-1] or records.sentence_kind[row] != "body" \
                or _FRONT_MATTER.search(text, span.start, span.end):
            break
        wide = [ln for ln in lines[1:-1] if len(ln) >= SUMMARY_LINE]
        if len(wide) < len(lines[1:-1]) or size + span.end - span.start > OWN_SUMMARY_CHARS:
            break
        first -= 1
        size += span.end - span.start
        if "@" in lines[0] or "://" in lines[0]:  # an address line before it: not its text
            break
    out = []
    for span in spans[first:at]:
        lo = span.start
        head = text[lo:span.end].split("\n", 1)
        if len(head) > 1 and ("@" in head[0] or "://" in head[0]):
            lo += len(head[0]) + 1
        out.append(Source(source=doc.source, text=text[lo:span.end], start=lo, end=span.end,
                          page=doc.page_at(lo), score=1.0, path=doc.path,
                          context=text[lo:span.end], context_start=lo))
    return out if len(out) >= 2 else []


_DATED = re.compile(r"\b(published(?: online)?|date|dated|issued|received|sent)\b"
                    r"[ \t]{0,3}:?[ \t]{0,3}", re.I)
_WEEKDAY = re.compile(r"(?:on\s)?(?:mon|tue|wed|thu|fri|sat|sun)[a-z]{0,6}\.?,?\s{1,3}|on\s",
                      re.I)
_DATE_LABELS = ("published", "published online", "date", "dated", "issued", "sent", "received")


def dated(text: str) -> str:
    """The date the document states for itself ("Published: 3 March 2021",
    "Date: ..."), read from `text` (its first page): a publication date
    first, a receipt date last; "" when it states none."""
    found = []
    for label in _DATED.finditer(text):
        # right after its label ("Date: Tue, 3 Mar 2021"), not anywhere near
        # the word ("papers published after 2012")
        weekday = _WEEKDAY.match(text, label.end())
        date = _DATE.match(text, weekday.end() if weekday else label.end())
        if date:
            rank = _DATE_LABELS.index(label.group(1).lower())
            found.append((rank, label.start(), date.group(0).strip()))
    return min(found)[2] if found else ""


AUTHORS_CHARS = 800  # how far after its title a document's byline is looked for
_FRONT_MATTER_END = re.compile(
    r"@|https?:|\b(?:abstract|background|summary|keywords|universit\w*|institut\w*|"
    r"department|school|college|cent(?:er|re)|laborator\w*|faculty|academy|hospital|"
    r"inc|ltd|corporation|edited|received|published|correspondence)\b", re.I)
_MARKS = re.compile(r"[\d*†‡§¶∗♠♢♡♣#⁎✉]+(?:[ ,]{0,2}[\d*†‡§¶∗♠♢♡♣#⁎✉]+){0,8}")
_PARTICLES = frozenset({"van", "von", "de", "del", "der", "den", "da", "di", "du", "le", "la",
                        "bin", "al", "el", "dos", "das", "y"})


def authors(doc: Any) -> list[str]:
    """The people a document names as its authors: the byline right under its
    title (names parted by commas, "and" or footnote marks, up to the first
    affiliation, address or "Abstract"); [] when there is none."""
    _, end = naming.title_span(doc)
    if not end:
        return []
    byline = []
    for line in doc.text[end:end + AUTHORS_CHARS].splitlines():
        line = line.strip()
        if not line:
            continue
        if _FRONT_MATTER_END.search(line) or line[:1].isdigit() and line[1:2] == " " or \
                len(line.split()) >= 3 and line[:1].islower() and not line.startswith("and "):
            break
        byline.append(line)
    text = re.sub(r"^(?:by|von|par|por)\s", "", " ".join(byline), flags=re.I)  # "By Jane Roe"
    pieces = re.split(r"[|,;&]|\band\b", _MARKS.sub("|", text))
    pieces = [" ".join(p.split()) for p in pieces if len(p.strip()) > 2]
    names = [p for p in pieces if _person(p)]
    return names if names and len(names) * 10 >= len(pieces) * 7 else []


def _person(text: str) -> bool:
    """Whether `text` reads as one person's name: two to five words, each
    capitalised, an initial, or a particle ("van", "de")."""
    words = text.split()
    if not 2 <= len(words) <= 5 or not words[-1][:1].isupper() or not words[0][:1].isupper():
        return False
    return all(w[:1].isupper() and (w.rstrip(".").replace("-", "").replace("’", "")
                                    .replace("'", "").isalpha())
               or w in _PARTICLES for w in words)


def byline(names: list[str], most: int = 3) -> str:
    """ "A, B and C", or "A, B, C and 9 others" for more than `most`+1."""
    if len(names) > most + 1:
        return f"{', '.join(names[:most])} and {len(names) - most} others"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _kind(records: Any, path: str, has_own_summary: bool) -> str:
    """What the document is, where its form or structure says so."""
    doc = records.document(path)
    suffix = Path(doc.source.split("::")[-1]).suffix.lower()
    if suffix in KINDS:
        return KINDS[suffix]
    rows = _rows(records, [path])
    if has_own_summary and any(records.sentence_kind[r] == "reference" for r in rows):
        return "a paper"
    pages = len(doc.page_starts)
    return f"a {pages}-page document" if pages > 1 else "a document"


def digest(records: Any, paths: Sequence[str], sentences: int | None = None) -> Answer:
    """An extractive summary of the documents. One document: its title and
    what it is, then its own summary (abstract, executive summary) where it
    has one, whole, then what it covers. What it covers: central sentences
    (closest to the documents' mean vector), spread over the sections in
    proportion to their length and taken in document order, no two
    near-duplicates, body text only (no headings, captions, figure text,
    references, rows). `sentences` caps the whole (default: the own summary
    and `digest_length` more)."""
    own = own_summary(records, paths[0]) if len(paths) == 1 else []
    if sentences:
        own = own[:sentences]
    taken = (own[0].start, own[-1].end) if own else (0, 0)
    rows = [r for r in _rows(records, paths)
            if not (records.sentence_spans[r].end > taken[0]
                    and records.sentence_spans[r].start < taken[1])
            and records.sentence_kind[r] not in NOT_ANSWERS | {"caption", "row"}
            and len(records.document(records.sentence_doc[r]).text[
                records.sentence_spans[r].start:records.sentence_spans[r].end].split())
            >= MIN_WORDS]
    if not rows and not own:
        return Answer("These documents hold no running text to summarise.", False)
    n = min(len(rows), sentences - len(own) if sentences else digest_length(len(rows)))
    covering = _covering(records, rows, n)
    covers = [source for _, source in covering]
    lead = []
    title = naming.title(records.document(paths[0])) if len(paths) == 1 else ""
    if len(paths) == 1:
        doc = records.document(paths[0])
        first_page = doc.text[:doc.page_starts[1] if len(doc.page_starts) > 1 else 5_000]
        when = dated(first_page)
        people = authors(doc)
        lead.append(f"**{title or doc.source}**: {_kind(records, paths[0], bool(own))}"
                    + (f" by {byline(people)}" if people else "")
                    + (f" ({doc.source})" if title else "")
                    + (f", dated {one_line(when)}" if when else "") + ".")
        if own:
            lead += ["", "Its own summary:"]  # (blank lines: Markdown paragraphs)
    sources = list(own)
    lines = [f"- {one_line(s.text)}" for s in sources]
    if own and covers:
        lines += ["", "What it covers:"]
    sources += covers
    # a line each; one document's lines name their section where it changes
    # (the document's shape: "*Methods*: ...")
    shown, titled = "", len(paths) == 1
    for row, source in covering:
        section = heading(records.sentence_section[row]).strip()
        named = titled and section and section != shown and section != title
        lines.append(f"- *{one_line(section)[:80]}*: {one_line(source.text)}" if named
                     else f"- {one_line(source.text)}")
        shown = section or shown
    return Answer("\n".join(lead + lines), True, sources, score=1.0)


def _covering(records: Any, rows: list[int], n: int) -> list[tuple[int, Source]]:
    """n central sentences of `rows` (row, source), spread over their
    sections, in order."""
    if n <= 0:
        return []
    vectors = records.sentence_vectors[rows].astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centre = vectors.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    central = vectors @ centre
    # A sentence that leans on the one before ("This ...", "It ...", "The
    # proposed method ...") does not read on its own: it counts less.
    texts = [records.document(records.sentence_doc[r]).text[
        records.sentence_spans[r].start:records.sentence_spans[r].end] for r in rows]
    leans = np.array([bool(_LEANS_ON.match(t)) for t in texts], dtype=np.float32)
    # The main subject first: what the title and headings share with the text.
    subject = set().union(*(_loose(naming.title(records.document(p)))
                            for p in dict.fromkeys(records.sentence_doc[r] for r in rows)))
    # Another work's first-person claim, quoted, is not the document's.
    quoted = np.array([quotes_its_subject(t, heading(records.sentence_section[r]), subject)
                       for t, r in zip(texts, rows)], dtype=np.float32)
    about = np.array([len(subject & _loose(t)) / len(subject) if subject else 0.0
                      for t in texts], dtype=np.float32)
    # Lexical centrality (as LexRank's): how common the sentence's terms are
    # in the document's sentences, per term.
    bags = [_loose(t) for t in texts]
    share: dict[str, int] = {}
    for bag in bags:
        for term in bag:
            share[term] = share.get(term, 0) + 1
    lexical = np.array([sum(share[t] for t in bag) / (len(bag) + 5) / len(rows)
                        for bag in bags], dtype=np.float32)
    lexical /= max(float(lexical.max()), 1e-12)
    central = central + SUBJECT_WEIGHT * about - LEANS_PENALTY * leans + \
        LEXICAL_WEIGHT * lexical - QUOTED_PENALTY * quoted
    # Sections in document order, each given seats by its share of the sentences.
    sections: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        key = (records.sentence_doc[row], heading(records.sentence_section[row]))
        sections.setdefault(key, []).append(i)
    seats = _seats([len(members) for members in sections.values()], n)
    chosen: list[int] = []
    for members, count in zip(sections.values(), seats):
        for _ in range(count):
            best, best_score = -1, -math.inf
            for i in members:
                if i in chosen:
                    continue
                like = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
                if like >= NEAR_DUPLICATE:
                    continue
                score = float(central[i]) - DIVERSITY * like
                if score > best_score:
                    best, best_score = i, score
            if best >= 0:
                chosen.append(best)
    chosen.sort()
    return [(rows[i], _source(records, rows[i], float(central[i]))) for i in chosen]


def _seats(sizes: list[int], n: int) -> list[int]:
    """n seats over groups by size (largest remainders); when there are more
    groups than seats, the largest groups get one each."""
    total = sum(sizes)
    if not total:
        return [0] * len(sizes)
    if len(sizes) > n:
        biggest = set(sorted(range(len(sizes)), key=lambda i: -sizes[i])[:n])
        return [1 if i in biggest else 0 for i in range(len(sizes))]
    exact = [n * s / total for s in sizes]
    seats = [max(1, int(e)) for e in exact]
    while sum(seats) > n:
        seats[max(range(len(seats)), key=lambda i: seats[i] - exact[i])] -= 1
    order = sorted(range(len(sizes)), key=lambda i: exact[i] - seats[i], reverse=True)
    for i in order[:n - sum(seats)]:
        seats[i] += 1
    return [min(s, size) for s, size in zip(seats, sizes)]


# -- lists -------------------------------------------------------------------------
_MONTHS = {m: i for i, names in enumerate([
    "january jan januar janvier enero gennaio janeiro januari", "february feb februar février "
    "febrero febbraio fevereiro februari", "march mar märz mars marzo março maart",
    "april apr avril abril aprile", "may mai mayo maggio maio mei", "june jun juni juin junio "
    "giugno junho", "july jul juli juillet julio luglio julho", "august aug août agosto augustus",
    "september sep sept septembre septiembre settembre setembro", "october oct oktober octobre "
    "octubre ottobre outubro", "november nov novembre noviembre novembro", "december dec dez "
    "dezember décembre diciembre dicembre dezembro"], 1) for m in names.split()}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(
    rf"\b(?P<d1>\d{{1,2}})\.?\s+(?P<m1>{_MONTH})\.?,?\s+(?P<y1>\d{{4}})\b|"
    rf"\b(?P<m2>{_MONTH})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}})\b|"
    rf"\b(?P<m3>{_MONTH})\.?\s+(?P<y3>\d{{4}})\b|"
    r"\b(?P<y4>\d{4})-(?P<n4>\d{2})-(?P<d4>\d{2})\b|"
    r"\b(?P<d5>\d{1,2})[./](?P<n5>\d{1,2})[./](?P<y5>\d{4})\b|"
    r"(?<![\d.,$€£-])\b(?P<y6>1[5-9]\d\d|20\d\d)s?\b(?![.,]\d|\s*%)", re.I)
# Runs are bounded (an address's local part is at most 64 characters): tried
# at every character of "1.1.1...", an unbounded run was quadratic.
_EMAIL = re.compile(r"\b[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", re.I)
_AMOUNT = re.compile(r"(?:[$€£¥]|\b(?:USD|EUR|GBP|CHF|JPY)\s?)\s?\d[\d,.]*(?:\s?(?:million|"
                     r"billion|thousand|bn|m|k)\b)?|\b\d[\d,.]{0,30}\s?(?:million |billion )?"
                     r"(?:dollars|euros?|pounds|francs|yen|USD|EUR|GBP)\b", re.I)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+(?:[A-Z]\.\s*)?[A-Z][a-z]+){1,2}\b")
_ORG = re.compile(r"\b(?:[A-Z][\w&.-]*\s+){0,4}(?:Inc|Ltd|LLC|Corp|Corporation|Company|GmbH|AG|"
                  r"SA|University|Institute|Ministry|Agency|Council|Union|Organi[sz]ation|"
                  r"Association|Bank|Foundation|Laboratory|Department)\b\.?(?:\s+of(?:\s+[A-Z]"
                  r"[\w-]*){1,3})?")
_PLACE = re.compile(r"\b(?:in|at|from|to|near)\s+((?:[A-Z][a-z]+)(?:[\s,]+[A-Z][a-z]+)?)")
VALUE_KINDS = ("date", "number", "amount", "email", "url", "person", "organisation", "place")


@dataclass
class Item:
    """One value found, with the sentence it comes from."""

    value: str
    key: tuple[Any, ...]
    source: Source
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "count": self.count, **self.source.to_dict()}


def find(records: Any, paths: Sequence[str], kind: str = "", term: str = "") -> list[Item]:
    """The values of `kind` in the documents, de-duplicated and sorted (dates
    by date, numbers and amounts by value, the rest alphabetically), each with
    the first sentence that holds it; or, with `term`, every sentence that
    mentions it (in document order)."""
    if term:
        wanted = _loose(term)
        if not wanted:
            raise QAError(f"{term!r} has no words to look for")
        items: list[Item] = []
        for row in _rows(records, paths):
            source = _source(records, row, 1.0)
            if wanted <= _loose(source.text):
                items.append(Item(source.text, (len(items),), source))
        return items
    if kind not in VALUE_KINDS:
        raise QAError(f"unknown kind {kind!r}; one of: {', '.join(VALUE_KINDS)}")
    found: dict[str, Item] = {}
    for row in _rows(records, paths):
        if records.sentence_kind[row] in NOT_LISTED:
            continue
        source = _source(records, row, 1.0)
        for value, key in _values(kind, source.text):
            norm = value.lower()
            if norm in found:
                found[norm].count += 1
            else:
                found[norm] = Item(value, key, source)
    return sorted(found.values(), key=lambda item: item.key)


# Sentences whose values lists never read: not the document's prose.
NOT_LISTED = frozenset({"reference", "toc", "nav", "heading", "figure", "caption"})
# Numbers that are not the document's figures: citation marks ("[61]",
# "[10, 12-14]"), references to figures, tables, sections, equations and
# pages ("Fig. 3", "Table IV", "Eq. (2)", "pp. 12-15"), an equation's own
# number ("(55)"), and URLs, whole or a broken-off tail ("1578.html"). Each
# is blanked before values are read, as are a sentence's opening section
# number and runs of four or more bare numbers (a chart's axis or data labels).
_NOT_PROSE = re.compile(
    r"\[\s?\d{1,4}(?:\s?[,;\u2013-]\s?(?:and\s|&\s)?\d{1,4}){0,30}\s?\]|"
    r"\b(?:fig(?:ure)?s?|tables?|tab|sec(?:tion)?s?|eqs?|equations?|algorithm|chapter|"
    r"pages?|pp?|appendix)\.?\s?\(?[\dIVX]{1,6}(?:\.\d{1,3})*[a-z]?\)?"
    r"(?:\s?[\u2013-]\s?\d{1,6})?|"
    r"\(\d{1,3}\)\s*$|"
    r"^\s{0,8}\d{1,2}(?:\.\d{1,2}){0,3}\.?\)?(?=\s[A-Z])|"  # a section's number: "1.1 Rise of"
    r"(?<![\w.,])(?:\d[\d.,]{0,12}\s{1,3}){3,}\d[\d.,]{0,12}(?![\w.,])|"  # a chart's axis
    r"[\w./%~-]{0,80}\.(?:html?|pdf|php|aspx?|jsp|xml|json|cgi)\b|"  # a URL's broken-off tail
    + _URL.pattern, re.I | re.M)
# A figure keeps its scale and what it counts: "61M weights", "7 TPS", "2 GPUs".
_SCALED = re.compile(r"(?<![\w.])(\d[\d,.]*\d|\d)([KMBG]|bn)?(?![\w])", re.I)
_COUNTED = re.compile(r"[ \u00a0]?(%|[a-z][a-z-]{1,20}\b|[A-Z]{2,5}s?\b)")


def prose(text: str) -> str:
    """`text` with citation marks, figure, table and equation numbers, page
    references and URLs blanked (same length): what lists read values from."""
    return _NOT_PROSE.sub(lambda m: " " * len(m.group(0)), text)


def _numbers(text: str) -> list[tuple[str, tuple[Any, ...]]]:
    """Each figure with its scale and the word after it when that word says
    what it counts ("61M weights", "7 TPS"); ordered by value."""
    out = []
    for m in _SCALED.finditer(text):
        digits, scale = m.group(1), m.group(2) or ""
        if scale.upper() in ("K", "M", "B", "G", "BN"):
            scale = {"K": "thousand", "M": "million", "B": "billion", "G": "billion",
                     "BN": "billion"}[scale.upper()]
        values = digit_values(digits, scale)
        value = m.group(0)
        counted = _COUNTED.match(text, m.end())
        word = counted.group(1).lower() if counted else ""
        if counted and (word == "%" or word not in STOPWORDS and not word.endswith("ly")):
            value += counted.group(0)
        out.append((value.strip(), (min(values) if values else math.inf, value.lower())))
    return out


def _values(kind: str, text: str) -> list[tuple[str, tuple[Any, ...]]]:
    if kind in ("date", "number", "amount"):
        text = prose(text)
    if kind == "date":
        return [(m.group(0).strip(), _date_key(m)) for m in _DATE.finditer(text)]
    if kind == "number":
        return _numbers(text)
    if kind == "amount":
        out = []
        for m in _AMOUNT.finditer(text):
            digits = re.search(r"\d[\d,.]*", m.group(0))
            values = digit_values(digits.group(0)) if digits else set()
            out.append((m.group(0).strip(), (min(values) if values else math.inf,)))
        return out
    if kind == "place":
        return [(m.group(1), (m.group(1).lower(),)) for m in _PLACE.finditer(text)]
    pattern = {"email": _EMAIL, "url": _URL, "person": _NAME, "organisation": _ORG}[kind]
    return [(m.group(0).rstrip(".,;:"), (m.group(0).lower(),)) for m in pattern.finditer(text)]


def _date_key(m: re.Match[str]) -> tuple[int, int, int]:
    g = m.groupdict()
    year = int(next(g[k] for k in ("y1", "y2", "y3", "y4", "y5", "y6") if g[k]))
    month_name = g["m1"] or g["m2"] or g["m3"]
    month = _MONTHS.get(month_name.lower().rstrip("."), 0) if month_name else \
        int(g["n4"] or g["n5"] or 0)
    day = int(g["d1"] or g["d2"] or g["d4"] or g["d5"] or 0)
    return (year, month, day)


LIST_LIMIT = 50  # rows a chat answer lists; the rest are counted ("and 4,952 more")


def listing_text(items: list[Item], kind: str, total: int | None = None) -> str:
    """The items as a Markdown table for the chat, and how many more there
    are when `total` (all that were found) is larger."""
    if not items:
        return f"No {kind or 'mention'} was found in these documents."
    head = "| value | document | page | sentence |\n|---|---|---|---|"
    rows = [f"| {_cell(i.value)}{f' (x{i.count})' if i.count > 1 else ''} | "
            f"{_cell(i.source.source)} | {i.source.page or ''} | {_cell(i.source.text)} |"
            for i in items]
    more = (total or 0) - len(items)
    tail = [f"\n…and {more:,} more: `qa find` lists them all, /v1/find pages through them "
            "(offset, limit)."] if more > 0 else []
    return "\n".join([head, *rows, *tail])


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# -- where -------------------------------------------------------------------------
@dataclass
class Place:
    """A document that discusses a term: its score and its best sentence."""

    source: Source
    score: float
    mentions: int

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "mentions": self.mentions,
                **self.source.to_dict()}


def where(records: Any, query_vector: np.ndarray, term: str,
          paths: Sequence[str] | None = None) -> list[Place]:
    """The documents that mention `term`, ranked by how much they discuss it:
    how many of their sentences hold its words (log-scaled, BM25's saturation)
    plus the cosine of their best such sentence; each with that sentence."""
    wanted = _loose(term)
    if not wanted:
        raise QAError(f"{term!r} has no words to look for")
    by_doc: dict[str, list[int]] = {}
    allowed = set(paths) if paths is not None else None
    for row, doc in enumerate(records.sentence_doc):
        if allowed is not None and doc not in allowed:
            continue
        if records.sentence_kind[row] in ("reference", "toc", "nav"):
            continue
        span = records.sentence_spans[row]
        text = records.document(doc).text[span.start:span.end]
        if wanted & _loose(text):
            by_doc.setdefault(doc, []).append(row)
    places = []
    for doc, rows in by_doc.items():
        sims = records.sentence_vectors[rows].astype(np.float32) @ query_vector
        # The best sentence shown is running text where there is any (not a caption).
        prose = np.array([records.sentence_kind[r] not in NOT_ANSWERS | {"caption"}
                          for r in rows])
        best = int(np.argmax(np.where(prose, sims, sims - 2.0)))
        score = math.log1p(len(rows)) + float(sims[best])
        places.append(Place(_source(records, rows[best], score), score, len(rows)))
    return sorted(places, key=lambda p: -p.score)


def where_text(places: list[Place], term: str) -> str:
    if not places:
        return f"No document mentions {term}."
    return "\n".join(f"- {p.source.source}{f', page {p.source.page}' if p.source.page else ''}"
                     f" ({p.mentions} sentence{'s' if p.mentions > 1 else ''}): "
                     f"{one_line(p.source.text)}" for p in places)
