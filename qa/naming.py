"""Which documents a question names: "NVIDIA's tax rate", "in the Apple
10-Q", "what does the lighthouse report say". A document is named by the
words of its file name and of its title (its first heading, or a short first
line); a word names it when the question holds it and fewer than half of the
indexed documents have it in their names. `Assistant` searches the named
documents first, then all of them when those hold no answer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .chunking import terms
from .documents import Document
from .documents.structure import titles_only

_NAMED = re.compile(r"\b(?:[A-Z][\w'.-]*|[\w'.-]*\d[\w'.-]*)")
TITLE_WORDS = 15  # a first line longer than this is a sentence, not a title


def title(doc: Document) -> str:
    """The document's title: the top heading of its first page (the largest,
    then the first: a PDF may give its abstract before its title), or its
    first line when it reads as a title (short, not ending as a sentence does)."""
    return title_span(doc)[0]


def title_span(doc: Document) -> tuple[str, int]:
    """The document's title (as `title`) and the offset where it ends in the
    text (0 when it has none)."""
    first_page = doc.page_starts[1] if len(doc.page_starts) > 1 else len(doc.text)
    headings = [b for b in doc.blocks if b.kind == "heading" and b.title]
    on_first = [b for b in headings if b.start < first_page] or headings[:1]
    if on_first:
        top = min(on_first, key=lambda b: (b.level, b.start))
        parts, end = [top.title], top.end
        for block in headings[headings.index(top) + 1:]:  # a title wrapped onto more lines
            if block.level != top.level or doc.text[end:block.start].strip() or \
                    len(" ".join(parts)) > 200:
                break
            parts.append(block.title)
            end = block.end
        return " ".join(parts), end
    first = doc.text.lstrip().split("\n", 1)[0].strip()
    if not titles_only(first, TITLE_WORDS):
        return "", 0
    return first, doc.text.index(first) + len(first)


def name_terms(source: str, heading: str = "") -> set[str]:
    """The terms of a file name (its stem, split at punctuation and case
    changes: "AppleQ3_10-Q.pdf" -> apple, q3, 10, q) and of its title."""
    stem = Path(source.split("::")[-1]).stem
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|[_\-.]+", " ", stem)
    return set(terms(spaced)) | set(terms(heading.replace("-", " ")))


class _Names:
    """A snapshot's name terms, computed once per `files` mapping (a
    question over 20,000 documents took 2.2 s building them every time)."""

    def __init__(self, files: Mapping[str, Mapping[str, Any]]) -> None:
        self.files = files
        self.parts = {path: [name_terms(info["source"]), name_terms("", info.get("title", ""))]
                      for path, info in files.items()}
        self.common = Counter(t for parts in self.parts.values() for t in set().union(*parts))
        self.by_term: dict[str, set[str]] = {}
        for path, parts in self.parts.items():
            for term in set().union(*parts):
                self.by_term.setdefault(term, set()).add(path)
        self.sources = {path: info["source"].lower() for path, info in files.items()}


_SNAPSHOTS: list[_Names] = []  # the latest few snapshots' names (each keeps its files alive)


def _names(files: Mapping[str, Mapping[str, Any]]) -> _Names:
    for names in _SNAPSHOTS:
        if names.files is files:
            return names
    names = _Names(files)
    _SNAPSHOTS[:] = [names, *_SNAPSHOTS[:3]]
    return names


def named(question: str, files: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Paths of the documents the question names: it writes as names
    (capitalised, or with a digit) at least half of the words of a document's
    file name or of its title, one of them a word fewer than half of the
    documents have in their names. None with fewer than two documents, or
    when every document would be named."""
    if len(files) < 2:
        return set()
    index = _names(files)
    # Names as written in the question: capitalised ("NVIDIA", "Apple") or
    # holding a digit ("10-Q"); a common word ("theory") names nothing even
    # where a title holds it.
    asked = set(terms(" ".join(w.replace("-", " ") for w in _NAMED.findall(question))))
    said = question.lower()
    found = {path for path, source in index.sources.items()  # a file name as such: "port.md"
             if source in said and re.search(
                 rf"(?<![\w.]){re.escape(source)}(?![\w])", said)}
    for path in set().union(*(index.by_term.get(t, set()) for t in asked)):
        for words in index.parts[path]:
            shared = words & asked
            if words and len(shared) * 2 >= len(words) and \
                    any(index.common[t] * 2 <= len(files) for t in shared):
                found.add(path)
    return found if len(found) < len(files) else set()
