"""Check a generated answer against the passages the model was shown.

The answer is split into claims (sentences). A claim is supported when one
sentence of the passages says it: the support score mixes the cosine of the
claim to the sentence (the embedding model the index already uses; sentence
vectors come from the index, so only the claims are embedded) with the share
of the claim's content terms the sentence holds. A claim naming a number or a
name that no passage holds is never supported, whatever its score. A citation
to the wrong passage is moved to the passage that supports the claim, and
counted; a citation to a passage that does not exist is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..chunking import split_sentences, stemmer_for, terms
from ..documents import normalize
from ..store.records import Records as Store
from . import Claim, Source, quantities

_PREAMBLE = re.compile(r"^(?:(?:the |my )?answer(?: to (?:this|the|your) question)? is|"
                       r"answer|according to (?:the )?passages?(?: \[?\d+\]?)?)\s*[:,]?\s*", re.I)
# Negation words of the languages qa stems (chunking._SNOWBALL) and English;
# Chinese, Japanese and Thai ones stand inside words, so they match anywhere.
_NEGATION_WORDS = """
not no never neither nor cannot none nobody nothing
nicht kein keine keinen keinem keiner keines nie niemals niemand nichts weder
nunca jamás ningún ninguna ninguno nadie nada ni tampoco
ne pas jamais aucun aucune rien non mai nessuno nessuna niente nulla né
não nenhum nenhuma ninguém nem nu niciodată niciun nicio nimeni nimic nici
не нет никогда никто ничто ничего δεν μη μην ποτέ κανένας καμία τίποτα ούτε
değil yok hiç asla hiçbir không chưa chẳng chả đừng لا لم لن ليس ليست غير
नहीं मत niet geen nooit niemand niets inte ikke ej aldrig aldri ingen nie nigdy
żaden nikt nic nem soha senki semmi ei koskaan tidak bukan belum jangan cap ningú res
without failed fail fails unable refused refuses lacks lacked lacking absent
ohne sans sin senza sem zonder без
""".split()
# Chinese negation characters, but not inside the common words they begin
# (非常 "very", 未来 "future", 不仅 "not only", 无论 "whatever", 别人 "others").
_CJK_NEGATION = r"不(?![仅僅过過断斷同久少管论論])|没|沒|未(?![来來])|无(?![论論])|無(?![論论])|" \
    r"非(?![常])|别(?![人的])|別(?![人的])"
_NEGATION = re.compile(r"(?<!\w)(?:%s)(?!\w)|n't\b|%s|ไม่|ない|ません"
                       % ("|".join(map(re.escape, _NEGATION_WORDS)), _CJK_NEGATION), re.I)
_AFTER_MARK = re.compile(r"(?<=\])\s+(?=[\"'“‘(]?[A-Z0-9])")
_MARK = re.compile(r"(?<!\s)\s*\[(\d+(?:\s*,\s*\d+)*)\]")  # from a run's start only
_WORD = re.compile(r"\w[\w'-]*")
_BE = {"is", "are", "was", "were", "be", "been", "being"}
ROLE_WINDOW = 3  # words either side of a verb that count as its participants

# Support = COSINE_WEIGHT * cosine + (1 - COSINE_WEIGHT) * term share, compared
# with Settings.support_threshold (benchmarks/verification.py, dev set and SQuAD
# 2.0 sample only). Whatever the score, a claim needs at least MIN_SHARE of its
# content terms in its sentence: a fluent claim that adds its own content
# ("... including allowing the UN to recognize it") scores high on cosine alone.
COSINE_WEIGHT = 0.5
MIN_SHARE = 0.5


@dataclass
class Passage:
    """A numbered passage shown to the model: whole sentences of one chunk."""

    number: int
    path: str
    source: str
    start: int
    end: int
    text: str
    page: int | None
    rows: Sequence[int]  # the store's sentence rows inside it


@dataclass
class Verified:
    claims: list[Claim]
    sources: list[Source]
    rows: list[int]  # the store's sentence row behind each source
    corrections: int


def split_claims(answer: str) -> list[tuple[str, list[int]]]:
    """The answer's sentences, each without its [n] marks, with the numbers cited."""
    out = []
    # A citation mark ends a claim even where the sentence splitter sees none
    # ('... measures." [1] Then ...').
    parts = _AFTER_MARK.split(answer.strip())
    for sentence in (part[s.start:s.end] for part in parts for s in split_sentences(part)):
        cited = [int(n) for m in _MARK.finditer(sentence) for n in m.group(1).split(",")]
        clean = _PREAMBLE.sub("", " ".join(_MARK.sub("", sentence).split()))
        clean = clean[:1].upper() + clean[1:]
        if re.search(r"\w", clean):
            out.append((clean, cited))
        elif out:  # marks the splitter cut off ('... it is." [1]'): the claim before's
            out[-1][1].extend(cited)
    return out


def verify(answer: str, passages: list[Passage], store: Store, embedder, threshold: float
           ) -> Verified:  # type: ignore[no-untyped-def]
    """Claims of `answer` with their support among `passages`.

    Args:
        answer: the model's text with [n] citation marks.
        passages: what the model was shown, numbered from 1.
        store: the index snapshot the passages come from (for sentence vectors).
        embedder: the index's embedding model (embeds the claims only).
        threshold: support score a claim needs.
    """
    raw = split_claims(answer)
    rows = [row for p in passages for row in p.rows]
    if not raw or not rows:
        return Verified([Claim(text, [], False, 0.0) for text, _ in raw], [], [], 0)
    owner: dict[int, set[int]] = {}  # chunks overlap: a sentence can be in two passages
    for p in passages:
        for row in p.rows:
            owner.setdefault(row, set()).add(p.number)
    sentence_terms = [set(terms(_sentence(store, row))) for row in rows]
    passage_text = normalize(" ".join(p.text for p in passages)).lower()
    tokens = re.findall(r"[\w'-]+", passage_text)
    shown = {*tokens, *(part for t in tokens for part in re.split(r"[-']", t))}
    vectors = embedder.encode([text for text, _ in raw])
    cosines = vectors @ store.sentence_vectors[rows].T
    claims: list[Claim] = []
    sources: list[Source] = []
    corrections = 0
    where: dict[int, int] = {}
    for (text, cited), cos in zip(raw, cosines):
        claim_terms = set(terms(text))
        share = np.array([len(claim_terms & t) / max(1, len(claim_terms))
                          for t in sentence_terms], dtype=np.float32)
        scores = COSINE_WEIGHT * cos + (1 - COSINE_WEIGHT) * share
        best = int(np.argmax(scores))
        score = float(scores[best])
        names = _specifics(text)
        invented = [s for _, s in names if normalize(s).lower().rstrip(".,") not in shown]
        row = rows[best]
        said = _sentence(store, row)
        # each number as the sentence states it: value, scale, unit, and thing
        invented += quantities.unsupported(text, said, names)
        if score < threshold or share[best] < MIN_SHARE or invented or \
                _negation_differs(text, said) or _roles_differ(text, said) or \
                _tautology(text):
            claims.append(Claim(text, [], False, score))
            continue
        valid = [n for n in cited if 1 <= n <= len(passages)]
        if not owner[row] & set(valid):
            corrections += 1  # cited elsewhere, or not at all
        if row not in where:
            where[row] = len(sources)
            sources.append(_source(store, row, score))
        claims.append(Claim(text, [where[row]], True, score))
    return Verified(claims, sources, list(where), corrections)


def _specifics(text: str) -> list[tuple[int, str]]:
    """Names and acronyms in any cased script ("Putin", "Путин", "NATO"), with
    their offsets: a capitalised word that does not open a sentence, or a word
    in capitals. Numbers are checked apart (quantities.py)."""
    found = []
    for match in _WORD.finditer(text):
        word = re.split(r"['’]", match.group(0))[0].rstrip("-")  # "EU's": EU
        before = text[:match.start()].rstrip(" \"'“‘(«¿¡")
        if len(word) >= 2 and word.isupper() or word[:1].isupper() and \
                word[1:2].islower() and before and before[-1] not in ".!?":
            found.append((match.start(), word))
    return found


def _roles_differ(claim: str, sentence: str) -> bool:
    """"The US warned Russia" against "Russia warned the US": a name on the
    other side of the shared verb than in the sentence (passive voice, "was
    warned by", turned around first)."""
    from ..chunking import STOPWORDS

    def tokens(text: str) -> list[str]:
        return _WORD.findall(normalize(text))

    said, own = tokens(claim), tokens(sentence)
    names = [i for i, w in enumerate(said) if w[:1].isupper() and w.lower() not in STOPWORDS]
    # Stemmed in the claim's language: one word alone is always taken for English.
    stem_of = stemmer_for(claim)
    said_stems = [stem_of(w.lower()) if w.lower() not in STOPWORDS else "" for w in said]
    own_stems = [stem_of(w.lower()) if w.lower() not in STOPWORDS else "" for w in own]
    said_lower = [w.lower() for w in said]
    for pivot, word in enumerate(said):
        stem = said_stems[pivot]
        # the participants: names right before and right after the verb
        near = [n for n in names if 0 < abs(n - pivot) <= ROLE_WINDOW]
        if not stem or word[:1].isupper() or stem not in own_stems or \
                not any(n < pivot for n in near) or not any(n > pivot for n in near):
            continue
        there = _nth(own_stems, stem, said_stems[:pivot].count(stem))
        flip = _passive(said, pivot) != _passive(own, there)
        for n in near:
            # A name the sentence holds (as a name), but only on the other side.
            sides = {(i < there) != flip for i, w in enumerate(own)
                     if w.lower() == said_lower[n] and w[:1].isupper()}
            if sides and (n < pivot) not in sides:
                return True
        return False
    return False


def _nth(items: list[str], item: str, n: int) -> int:
    """Where the n-th (from 0) `item` stands in `items`, or its last place."""
    places = [i for i, x in enumerate(items) if x == item]
    return places[min(n, len(places) - 1)]


def _passive(words: list[str], at: int) -> bool:
    """Whether the verb at `at` is passive: "was warned by"."""
    return at > 0 and words[at - 1].lower() in _BE and \
        "by" in (w.lower() for w in words[at + 1:at + 5])


def _tautology(claim: str) -> bool:
    """"Serbia's main ally is Serbia's main ally": both sides of the copula
    say the same, so the claim says nothing."""
    parts = re.split(r"\s+(?:is|are|was|were|means|equals)\s+", claim, maxsplit=1)
    return len(parts) == 2 and bool(set(terms(parts[0]))) and \
        set(terms(parts[0])) == set(terms(parts[1]))


def _negation_differs(claim: str, sentence: str) -> bool:
    """"Russia did not warn" against "Russia warned ...", or the other way round.

    Both the whole sentence and its clause that best matches the claim must
    disagree, so a claim taken from one clause is not blamed for a "not" in
    another, nor a whole copied sentence for a clause it also copied.
    """
    said = set(terms(claim))
    negated = bool(_NEGATION.search(claim))
    clauses = re.split(r"[,;:]\s+|\s+(?:but|while|whereas)\s+", sentence)
    closest = max(clauses, key=lambda c: len(said & set(terms(c))))
    return negated != bool(_NEGATION.search(sentence)) and \
        negated != bool(_NEGATION.search(closest))


def _sentence(store: Store, row: int) -> str:
    span = store.sentence_spans[row]
    return store.document(store.sentence_doc[row]).text[span.start:span.end]


def _source(store: Store, row: int, score: float) -> Source:
    path = store.sentence_doc[row]
    doc = store.document(path)
    span = store.sentence_spans[row]
    lo = row - 1 if row > 0 and store.sentence_doc[row - 1] == path else row
    hi = row + 1 if row + 1 < len(store.sentence_spans) and store.sentence_doc[row + 1] == path \
        else row
    start, end = store.sentence_spans[lo].start, store.sentence_spans[hi].end
    return Source(source=doc.source, text=doc.text[span.start:span.end], start=span.start,
                  end=span.end, page=doc.page_at(span.start), score=score, path=doc.path,
                  context=doc.text[start:end], context_start=start)
