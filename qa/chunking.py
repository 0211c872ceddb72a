"""Split text into sentences and sentence-aware chunks, with char offsets.

Pure text work: no model, no index. Sentences come from nupunkt (Punkt,
trained on legal and scientific text), which keeps abbreviations such as
"U.S.", "et al.", "e.g." and "Fig. 14." inside their sentence, and is about 35
times faster than pysbd with fewer bad breaks (benchmarks/splitting.py).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .documents import Document, normalize
from .documents.structure import boundaries

_PARAGRAPH = re.compile(r"\n\s*\n")
# Scripts written without spaces between words (Chinese, Japanese, Thai): a run
# of them is one token to \w+, so it is cut into overlapping character pairs,
# the usual BM25 terms for these scripts when no segmenter is at hand.
_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Combining marks (Devanagari and other Indic vowel signs, Arabic harakat) are
# not \w in Python's re, and would cut every Hindi word apart.
_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u0900-\u0dff"
_LETTER = rf"(?:[^\W{_UNSPACED}]|[{_MARKS}])"
UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
WORD = re.compile(rf"[{_UNSPACED}]+|{_LETTER}+(?:[-'.]{_LETTER}+)*")
# Sentence ends Punkt does not know: the ideographic full stop and marks, the
# Devanagari danda, the Arabic question mark (a break after them, kept whole).
_FOREIGN_END = re.compile(r"(?<=[\u3002\uff01\uff1f\u0964\u061f])[\u300d\u300f\u201d\u2019\uff09)]*")

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
also did does may might must shall upon within without according
""".split())


@dataclass(frozen=True)
class Span:
    """A stretch of a document: [start, end) char offsets."""

    start: int
    end: int


@dataclass
class Chunk:
    """A run of whole sentences from one document.

    Attributes:
        source: display name of the document.
        path: the document's identity (absolute path).
        start, end: char offsets of the chunk in the document.
        text: the document text in [start, end).
        sentences: the sentences inside the chunk, as document offsets.
        page: 1-based page of the chunk start, for PDFs.
    """

    source: str
    path: str
    start: int
    end: int
    text: str
    sentences: list[Span]
    page: int | None = None


@functools.lru_cache(maxsize=1)
def _splitter():  # type: ignore[no-untyped-def]
    """nupunkt's model without the function words it learned as abbreviations
    from legal text ("so", "all", "at"), which end ordinary sentences;
    "no" stays for "No. 3"."""
    import nupunkt

    model = nupunkt.load("default")
    model._params.abbrev_types -= STOPWORDS - {"no"}
    return model


def split_sentences(text: str, breaks: Sequence[int] = ()) -> list[Span]:
    """Sentence spans covering every non-blank stretch of `text`, in order.

    Paragraphs (blank-line separated) never share a sentence, and neither do
    the two sides of an offset in `breaks` (the bounds of a document's
    structure blocks: a heading and the line under it). Leading and trailing
    whitespace is not part of a sentence.
    """
    spans: list[Span] = []
    for start, end in _paragraphs(text, breaks):
        # Single line breaks inside a paragraph are soft wraps (PDFs, hard-wrapped
        # text); a space in their place keeps every offset.
        block = text[start:end].replace("\n", " ")
        cursor = 0
        ordinals: bool | None = None  # whether the paragraph's language writes "14." for 14th
        for _, (_, stop) in _splitter().tokenize_with_spans(block):
            if _LABEL.fullmatch(block, cursor, stop) and stop < len(block):
                continue  # "Fig. 3." starts its caption
            if stop < len(block) and _thai_abbreviation(block, stop):
                continue  # Thai ends no sentence with ".": "พ.ศ. 2488" (B.E. 2488) goes on
            before = _ordinal_before(block, stop) if stop < len(block) else None
            if before is not None:
                if ordinals is None:
                    ordinals = language(words(block)) in ORDINAL_LANGUAGES
                # After a lower-case word ("am 14.", "und 4.") or a bracket it is
                # an ordinal; after a name ("Route 99.") it may end the sentence.
                if _MONTH_START.match(block, stop) or ordinals and (
                        not before or before[0].islower() or before[-1] in "(,"):
                    continue  # "am 14. März", "der 3. Platz": the sentence goes on
            piece = block[cursor:stop]
            cuts = [m.end() for m in _FOREIGN_END.finditer(piece) if 0 < m.end() < len(piece)]
            at = 0
            for cut in cuts:  # "。" and its kin end a sentence too
                spans.append(Span(start + cursor + at, start + cursor + cut))
                at = cut
            spans.append(Span(start + cursor + at, start + stop))
            cursor = stop
        if cursor < len(block):  # the spans cover the block to its end
            spans.append(Span(start + cursor, end))
    return [piece for s in spans if text[s.start:s.end].strip()
            for piece in _bounded(text, trim(text, s))]


# Languages that write an ordinal as the number and a full stop ("am 14. März",
# "den 3. maj", "14. marca"): a number of up to three digits and its stop
# inside a sentence is not its end. In any language a month name after it
# ("14. March" in a German-English mix) continues the sentence.
_LABEL = re.compile(r"\s*(?:fig\.?|figure|table|tab\.|abb\.|abbildung|tabelle)\s*[\dIVXL]+"
                    r"[a-z]?[.:]\s*", re.I)


def _thai_abbreviation(block: str, stop: int) -> bool:
    """Whether `block[:stop]` ends with a Thai letter and a full stop."""
    end = stop
    while end > max(0, stop - _LOOK_BACK) and block[end - 1].isspace():
        end -= 1
    return end >= 2 and block[end - 1] == "." and "\u0e00" <= block[end - 2] <= "\u0e7f"
ORDINAL_LANGUAGES = frozenset({"de", "da", "no", "fi", "cs", "pl", "hu", "tr", "sv"})
_LOOK_BACK = 64  # characters an end-of-sentence check reads before the end


def _ordinal_before(block: str, stop: int) -> str | None:
    """When `block[:stop]` ends with a number of up to three digits and its
    stop ("am 14. "), the word before the number ("" at the block's start,
    after a bracket or after two spaces); else None.

    Reads at most _LOOK_BACK characters back, so splitting a paragraph stays
    linear in its length (a search from the paragraph's start per sentence
    was quadratic: 141 kB of minutes took 32 s).
    """
    low = max(0, stop - _LOOK_BACK)
    end = stop
    while end > low and block[end - 1].isspace():
        end -= 1
    if end <= low or block[end - 1] != ".":
        return None
    digits = end - 1
    while digits > max(low, end - 5) and block[digits - 1].isdecimal():
        digits -= 1
    if not 1 <= end - 1 - digits <= 3:
        return None
    if digits == 0 or block[digits - 1] == "(":
        return ""
    if not block[digits - 1].isspace():
        return None
    word = digits - 1
    while word > max(0, digits - 1 - _LOOK_BACK) and not block[word - 1].isspace():
        word -= 1
    return block[word:digits - 1]
_MONTH_START = re.compile(
    r"\s*(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|okt|nov|dec|dez)\.|\s*(?:january|february|"
    r"march|april|may|june|july|august|september|october|november|december|januar|februar|"
    r"märz|mai|juni|juli|oktober|dezember|janvier|février|mars|avril|juin|juillet|août|"
    r"septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio|"
    r"settembre|ottobre|dicembre|janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|"
    r"novembro|dezembro|maart|mei|juni|augustus)\b", re.I)


# The longest sentence kept whole. Longer runs are text without sentence marks
# (logs, lists, a Chinese file without 。): cut at line breaks, then at the last
# clause mark or space before the bound (XQuAD: 4 of 1,179 sentences are longer).
MAX_SENTENCE = 600
_CLAUSE = re.compile(r"[;:,，；、]\s*|\s+")
# Thai writes no sentence marks: a space parts phrases (a median of 9
# characters in qa_train/'s Thai set) as well as sentences. A run of Thai is
# cut at spaces into pieces of at most THAI_SENTENCE characters, the longest
# answer, so that a sentence can be an answer whole (on that set, 98.2% of
# the gold answers lie inside one piece; at 600 characters 99.4%, but an
# answer of 600 was cut to its first 300).
THAI_SENTENCE = 300
_THAI = re.compile("[\u0e00-\u0e7f]")


def _bounded(text: str, span: Span) -> list[Span]:
    """`span` as it is, or cut into pieces of at most MAX_SENTENCE characters
    (THAI_SENTENCE in Thai)."""
    size = span.end - span.start
    bound = THAI_SENTENCE if size > THAI_SENTENCE and \
        len(_THAI.findall(text, span.start, span.end)) > 0.3 * size else MAX_SENTENCE
    if size <= bound:
        return [span]
    pieces: list[Span] = []
    at = span.start
    for line in re.finditer(r"[^\n]+", text[span.start:span.end]):
        piece = trim(text, Span(span.start + line.start(), span.start + line.end()))
        if piece.end > piece.start:
            pieces.extend(_by_length(text, piece, bound))
        at = piece.end
    return pieces or [Span(at, span.end)]


def _by_length(text: str, span: Span, bound: int = MAX_SENTENCE) -> list[Span]:
    out, start = [], span.start
    while span.end - start > bound:
        window = text[start:start + bound]
        cuts = [m.end() for m in _CLAUSE.finditer(window) if m.end() > bound // 2]
        cut = start + (cuts[-1] if cuts else bound)
        out.append(trim(text, Span(start, cut)))
        start = cut
    out.append(trim(text, Span(start, span.end)))
    return [p for p in out if p.end > p.start]


def _paragraphs(text: str, breaks: Sequence[int] = ()) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for match in _PARAGRAPH.finditer(text):
        if text[start:match.start()].strip():
            bounds.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        bounds.append((start, len(text)))
    if not breaks:
        return bounds
    cut, at = [], 0
    for start, end in bounds:
        while at < len(breaks) and breaks[at] <= start:
            at += 1
        for offset in breaks[at:bisect.bisect_left(breaks, end, lo=at)]:
            if text[start:offset].strip():
                cut.append((start, offset))
            start = offset
        if text[start:end].strip():
            cut.append((start, end))
    return cut


def trim(text: str, span: Span, trailing: str = "") -> Span:
    """The span without surrounding whitespace (and without `trailing` characters at its end)."""
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in trailing):
        end -= 1
    return Span(start, end)


def chunk_document(doc: Document, chunk_size: int = 600, overlap: int = 1,
                   sentences: list[Span] | None = None) -> list[Chunk]:
    """Pack whole sentences into chunks of about `chunk_size` characters.

    A sentence longer than `chunk_size` becomes a chunk of its own; it is
    never cut. Consecutive chunks share `overlap` sentences. Pass `sentences`
    when the document is already split.
    """
    if sentences is None:
        sentences = split_sentences(doc.text, boundaries(doc.blocks))
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j = i + 1
        while j < len(sentences) and sentences[j].end - sentences[i].start <= chunk_size:
            j += 1
        group = sentences[i:j]
        start, end = group[0].start, group[-1].end
        chunks.append(Chunk(
            source=doc.source, path=doc.path, start=start, end=end,
            text=doc.text[start:end], sentences=list(group), page=doc.page_at(start),
        ))
        if j >= len(sentences):
            break
        i = max(i + 1, j - overlap)
    return chunks


def words(text: str) -> list[str]:
    """Lower-cased word tokens of the normalised text ("U.S." stays one word;
    a run of Chinese, Japanese or Thai gives its overlapping character pairs)."""
    out: list[str] = []
    for token in WORD.findall(normalize(text)):
        if UNSPACED_CHAR.match(token):
            out.extend([token[i:i + 2] for i in range(len(token) - 1)] or [token])
        else:
            out.append(token.lower().strip("."))
    return out


def looks_english(text: str) -> bool:
    """Whether the text reads as English: at least 15% of its first 20,000
    characters' words are English function words. English prose measures 25-46%
    here (SQuAD, XQuAD, the demo article), XQuAD's eleven other languages 0-7%.
    Too short to tell (under 30 words) counts as English."""
    found = words(text[:20_000])
    return len(found) < 30 or sum(w in STOPWORDS for w in found) >= 0.15 * len(found)


def terms(text: str) -> list[str]:
    """Stemmed content words, for lexical matching (BM25 and overlap), with the
    stemmer of the text's language."""
    return list(_terms(text))


@functools.lru_cache(maxsize=65_536)
def _terms(text: str) -> tuple[str, ...]:
    # Cached: every question re-scores the same candidate sentences.
    tokens = words(text)
    lang = language(tokens)
    if lang == "en":
        stem = _stemmer("en")
        return tuple(stem(w) for w in tokens if w not in STOPWORDS and w)
    if lang not in _SNOWBALL:  # character pairs (Chinese, Japanese, Thai), Korean words
        return tuple(tokens)
    stem, stop = _stemmer(lang), _stopwords(lang)
    return tuple(stem(w) for w in tokens if w not in stop and w)


# Languages with a Snowball stemmer (PyStemmer) and a stopwords-iso list, and
# Vietnamese (no stemmer: its words do not inflect). Chinese, Japanese and
# Thai need neither: their terms are character pairs.
_SNOWBALL = {"ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
             "el": "greek", "es": "spanish", "fi": "finnish", "fr": "french", "hi": "hindi",
             "hu": "hungarian", "id": "indonesian", "it": "italian", "nl": "dutch",
             "no": "norwegian", "pl": "polish", "pt": "portuguese", "ro": "romanian",
             "ru": "russian", "sv": "swedish", "tr": "turkish", "vi": ""}
_SCRIPTS = [(re.compile("[\u0370-\u03ff\u1f00-\u1fff]"), "el"),
            (re.compile("[\u0400-\u04ff]"), "ru"),
            (re.compile("[\u0600-\u06ff]"), "ar"),
            (re.compile("[\u0900-\u097f]"), "hi"),
            (re.compile("[\u3040-\u30ff]"), "ja"),
            (re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"), "zh"),
            (re.compile("[\u0e00-\u0e7f]"), "th"),
            (re.compile("[\uac00-\ud7af\u1100-\u11ff]"), "ko")]

_LETTERS = [(re.compile("[ığ]"), "tr"), (re.compile("[ơưđ]"), "vi"), (re.compile("[ășțţ]"), "ro"),
            (re.compile("[ßäöü]"), "de")]


def language(tokens: list[str]) -> str:
    """The ISO 639-1 code of the language the words are in: by script for
    Greek, Cyrillic, Arabic, Devanagari, Chinese, Japanese, Thai and Korean; else from the function words
    (another language wins with more of its own, not English, function words
    than English has); else, with no English function word either, from letters
    only one language uses ("ı", "ơ", "ț", "ß"), then from any function word of
    another language ("hat"); "en" otherwise."""
    for token in tokens[:3]:
        for script, lang in _SCRIPTS:
            if script.match(token):
                return lang
    langs_of = _function_words()
    english, other = 0, dict.fromkeys(_SNOWBALL, 0.0)
    for w in tokens:
        if w in STOPWORDS:
            english += 1
        elif w in langs_of:
            for lang in langs_of[w]:  # a word shared by several languages counts less
                other[lang] += 1 / len(langs_of[w])
    best = max(other, key=other.__getitem__)
    if other[best] >= 1 and other[best] > english:
        return best
    if not english:  # no English function word: letters only one language uses,
        for letters, lang in _LETTERS:  # then the other languages' weaker evidence
            if letters.search("".join(tokens)):
                return lang
        if other[best]:
            return best
    return "en"


@functools.cache
def _function_words() -> dict[str, tuple[str, ...]]:
    """Word -> the languages (of _SNOWBALL) whose stopwords-iso list holds it."""
    import stopwordsiso

    langs_of: dict[str, list[str]] = {}
    for lang in _SNOWBALL:
        for w in stopwordsiso.stopwords(lang):
            langs_of.setdefault(w, []).append(lang)
    return {w: tuple(langs) for w, langs in langs_of.items()}


@functools.cache
def _stopwords(lang: str) -> frozenset[str]:
    """stopwords-iso's list for the language, dropped from its terms as the
    English function words are from English terms."""
    import stopwordsiso

    return frozenset(stopwordsiso.stopwords(lang))


def stemmer_for(text: str) -> Callable[[str], str]:
    """The stemmer of the language `text` is in (identity where there is none)."""
    lang = language(words(text))
    return _stemmer(lang) if lang == "en" or lang in _SNOWBALL else str


@functools.cache
def _stemmer(lang: str) -> Callable[[str], str]:
    """The Snowball stemmer of a language (none for Vietnamese)."""
    import Stemmer

    name = "english" if lang == "en" else _SNOWBALL[lang]
    return Stemmer.Stemmer(name).stemWord if name else str


@functools.lru_cache(maxsize=4096)
def sketch(text: str, size: int = 64) -> frozenset[int]:
    """A bottom-k MinHash sketch of the text's 5-word shingles (cached per text)."""
    import zlib

    tokens = words(text)
    shingles = {" ".join(tokens[i:i + 5]) for i in range(max(1, len(tokens) - 4))}
    return frozenset(sorted(zlib.crc32(s.encode()) for s in shingles)[:size])


def near_duplicates(fresh: list[Document], others: list[Document], threshold: float = 0.9,
                    limit: int = 5_000) -> list[tuple[str, str]]:
    """Pairs (fresh name, other name) whose estimated shingle Jaccard is >= threshold.

    Pairwise over sketches, so it stops at `limit` documents in the index (the
    report then lists none) rather than slow a large add down.
    """
    if not fresh or len(others) > limit:
        return []
    pairs, seen = [], set()
    for doc in fresh:
        mine = sketch(doc.text)
        for other in others:
            key = frozenset((doc.path, other.path))
            # Texts this far apart in length cannot share 90% of their shingles:
            # not sketched (so a small file's add does not read the whole index).
            if other.path == doc.path or key in seen or \
                    not len(doc.text) <= 2 * len(other.text) <= 4 * len(doc.text):
                continue
            seen.add(key)
            theirs = sketch(other.text)
            union = sorted(mine | theirs)[:64]
            shared = sum(1 for h in union if h in mine and h in theirs)
            if union and shared / len(union) >= threshold:
                pairs.append((doc.source, other.source))
    return pairs
