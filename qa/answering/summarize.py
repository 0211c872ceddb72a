"""Digests written by a chat model: map over a document's sections within the
model's budget, keep what the sections support, fill from the extractive
digest.

Each section (or run of small sections) is shown to the model with the
sentences closest to the document's centre that fit its budget (the
characters an answer's passages may take), and the model writes one or two
sentences about it. Every sentence it writes is verified against that section
exactly as answers are (verify.py); an unsupported one is dropped, and the
reply says how many. The kept sentences, in document order, make the digest;
when they are fewer than the extractive digest's, its sentences fill the
rest, so a weak model never gives less than the extractive digest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..config import Settings
from ..documents.structure import NOT_ANSWERS, heading
from . import Answer, Claim, Source
from .generative import _cited, _refused, stream_text
from .verify import Passage, verify

logger = logging.getLogger(__name__)
_LINE_BREAK = re.compile(r"(?<!\s)\s*\n\s*")  # from a run's start only: linear

MAP = ("Summarize the passage in one or two sentences, using only what it says. "
       "Reply with the sentences only.")
MAX_SECTIONS = 12  # model calls for one digest; more sections are merged


def sections(records: Any, path: str, budget: int) -> list[Passage]:
    """The document's body text as at most MAX_SECTIONS passages, one per
    section (small neighbours merged), each holding the section's most central
    sentences that fit in `budget` characters, in document order."""
    rows = [r for r, doc in enumerate(records.sentence_doc) if doc == path
            and records.sentence_kind[r] not in NOT_ANSWERS | {"caption", "row"}]
    if not rows:
        return []
    doc = records.document(path)
    vectors = records.sentence_vectors[rows].astype(np.float32)
    centre = vectors.mean(axis=0)
    central = dict(zip(rows, (vectors @ centre).tolist()))
    groups: list[list[int]] = []
    for row in rows:
        same = groups and heading(records.sentence_section[groups[-1][-1]]) == \
            heading(records.sentence_section[row])
        small = groups and _length(records, groups[-1]) < budget // 2
        if same or small:
            groups[-1].append(row)
        else:
            groups.append([row])
    while len(groups) > MAX_SECTIONS:  # merge the smallest neighbouring pair
        i = min(range(len(groups) - 1),
                key=lambda j: _length(records, groups[j]) + _length(records, groups[j + 1]))
        groups[i:i + 2] = [groups[i] + groups[i + 1]]
    out = []
    for number, group in enumerate(groups, 1):
        kept: list[int] = []
        used = 0
        for row in sorted(group, key=lambda r: -central[r]):
            size = records.sentence_spans[row].end - records.sentence_spans[row].start + 1
            if used + size <= budget or not kept:
                kept.append(row)
                used += size
        kept.sort()
        text = " ".join(doc.text[records.sentence_spans[r].start:records.sentence_spans[r].end]
                        for r in kept)
        start, end = records.sentence_spans[kept[0]].start, records.sentence_spans[kept[-1]].end
        out.append(Passage(number, path, doc.source, start, end, text, doc.page_at(start), kept))
    return out


def _length(records: Any, rows: list[int]) -> int:
    return sum(records.sentence_spans[r].end - records.sentence_spans[r].start for r in rows)


def digest(model: Any, name: str, records: Any, paths: list[str], embedder: Any,
           settings: Settings, extractive: Answer) -> Iterator[str | Answer]:
    """Stream progress ("(read 3 of 12 sections)") and the supported sentences
    as each section is read, then yield the digest (mode "generated";
    `extractive` when the model gives nothing usable)."""
    from ..overview import own_summary

    # The overview's title line and the document's own summary come first,
    # as the extractive digest gives them; the model summarises the rest.
    title = extractive.text.split("\n", 1)[0] if extractive.text.startswith("**") else ""
    own = own_summary(records, paths[0]) if len(paths) == 1 else []
    lead = [title] if title else []
    if own:
        lead += ["", "Its own summary:", *(f"- {_cited(_LINE_BREAK.sub(' ', s.text), [i])}"
                                          for i, s in enumerate(own))]
    if lead:
        yield "\n".join(lead) + "\n"

    def in_own(source: Source) -> bool:
        return any(o.path == source.path and o.start < source.end and source.start < o.end
                   for o in own)

    budget = settings.llm_passages * settings.chunk_size
    parts = [p for path in paths for p in sections(records, path, budget)]
    kept: list[tuple[int, Claim, Source]] = []  # (sentence row, claim, its source)
    dropped: list[Claim] = []
    for read, part in enumerate(parts, 1):
        yield f"(read {read - 1} of {len(parts)} sections)\n"
        try:
            text = "".join(stream_text(model, [("system", MAP), ("user", " ".join(
                part.text.split()))], settings.llm_timeout)).strip()
        except Exception as exc:  # down or too slow: this section is not summarised
            logger.warning("the model %s failed on section %d: %s", name, read, exc)
            continue
        if not text or _refused(text):
            continue
        part.number = 1  # verified alone: its claims cite [1]
        checked = verify(text, [part], records, embedder, settings.support_threshold)
        for claim in checked.claims:
            if not claim.supported:
                dropped.append(claim)
                continue
            row = checked.rows[claim.sources[0]]
            if all(row != r for r, _, _ in kept) and \
                    not in_own(checked.sources[claim.sources[0]]):
                kept.append((row, claim, checked.sources[claim.sources[0]]))
                yield f"- {claim.text}\n"
    if not kept:
        extractive.note = (f"The model {name} wrote nothing the documents support; these "
                           f"are sentences from the documents themselves.")
        extractive.mode, extractive.model = "fallback", name
        yield extractive
        return
    covering = [s for s in extractive.sources if not in_own(s)]
    wanted = len(covering)
    filled = 0
    taken = {(s.path, s.start) for _, _, s in kept}
    for source in covering:  # the extractive digest fills what the model left out
        if len(kept) >= wanted:
            break
        if (source.path, source.start) not in taken:
            kept.append((-1, Claim(source.text, [], True, source.score), source))
            filled += 1
    kept.sort(key=lambda item: (paths.index(item[2].path) if item[2].path in paths else 0,
                                item[2].start))
    sources = own + [source for _, _, source in kept]
    claims = [Claim(s.text, [i], True, 1.0) for i, s in enumerate(own)] + \
        [Claim(c.text, [len(own) + i], True, c.score) for i, (_, c, _) in enumerate(kept)]
    body = [f"- {_cited(_LINE_BREAK.sub(' ', c.text), c.sources)}" for c in claims[len(own):]]
    text = "\n".join(lead + (["", "What it covers:"] if own else []) + body)
    note = f"{name} read {len(parts)} section{'s' if len(parts) != 1 else ''}"
    if dropped:
        note += f"; {len(dropped)} of its sentences were not supported and were left out"
    if filled:
        note += f"; {filled} sentence{'s' if filled != 1 else ''} come from the documents " \
                f"themselves"
    yield Answer(text, True, sources, score=min(c.score for c in claims), mode="generated",
                 claims=claims + [Claim(c.text, [], False, c.score) for c in dropped],
                 model=name, note=note)
