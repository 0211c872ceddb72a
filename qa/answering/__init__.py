"""Answers and their citations; the answerers live in the modules beside this one.

    extractive.py   picks the supporting sentence(s) by score, or abstains (default)
    span.py         marks the short answer (date, number, name, place) inside it
    generative.py   asks a LangChain chat model, streaming, over numbered passages
    verify.py       checks each generated sentence against the passages shown
    local.py        serves a local GGUF model with xllamacpp (gguf:/path/model.gguf)
    followup.py     reads the conversation: follow-up questions and their documents
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

NOT_FOUND = "The documents do not contain an answer to this question."


@dataclass
class Source:
    """A cited passage.

    Attributes:
        source: document name (file name).
        text: the exact cited text, document[start:end].
        start, end: char offsets into the document text.
        page: 1-based page for PDFs, else None.
        score: how strongly it supports the answer (higher is better).
        path: the document's full path (its identity in the index).
        context: the surrounding passage, for display.
        context_start: char offset of `context` in the document.
    """

    source: str
    text: str
    start: int
    end: int
    page: int | None
    score: float
    path: str = ""
    context: str = ""
    context_start: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "text": self.text, "start": self.start,
                "end": self.end, "page": self.page, "score": round(self.score, 4)}


@dataclass
class Claim:
    """One sentence of a generated answer, checked against the passages.

    Attributes:
        text: the sentence, without its citation marks.
        sources: indexes into `Answer.sources` of the sentences supporting it
            (empty when unsupported: an unsupported claim is never shown as sourced).
        supported: whether a sentence of the passages shown to the model says it.
        score: the support score the threshold is compared with.
    """

    text: str
    sources: list[int] = field(default_factory=list)
    supported: bool = False
    score: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "sources": self.sources, "supported": self.supported,
                "score": round(self.score, 4)}


Mode = Literal["extractive", "generated", "fallback"]


@dataclass
class Answer:
    """An answer with its citations.

    Attributes:
        text: the answer, or a "not in the documents" message when `found` is
            False. Extractive: the cited sentence(s). Generated: the supported
            claims, each followed by its [n] marks into `sources`.
        found: whether the documents support an answer.
        sources: the cited passages, best first (empty when not found).
        score: the answer score the abstention threshold is compared with.
        mode: "extractive" (no model), "generated" (a chat model's answer,
            verified) or "fallback" (the model failed or was not supported by
            the documents, so this is the extractive answer; `note` says why).
        claims: the generated answer's sentences with their support (generated only).
        model: the chat model that answered, when one did.
        note: why the answer fell back, for display.
        corrections: citations the verifier moved to the passage that supports the claim.
        span: [start, end) in `text` of the short answer (the date, number,
            name or place the question asks for), when one is marked.
    """

    text: str
    found: bool
    sources: list[Source] = field(default_factory=list)
    score: float = 0.0
    mode: Mode = "extractive"
    claims: list[Claim] = field(default_factory=list)
    model: str = ""
    note: str = ""
    corrections: int = 0
    # A chat model's own token counts ({"prompt_tokens", "completion_tokens"}), when it gave them.
    usage: dict[str, int] | None = None
    span: tuple[int, int] | None = None
    # A list or "where" answer's rows (value, count, source, page, offsets), for JSON.
    items: list[dict[str, object]] | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "answer": self.text, "found": self.found,
            "sources": [s.to_dict() for s in self.sources],
            "mode": self.mode, "claims": [c.to_dict() for c in self.claims],
            "span": {"start": self.span[0], "end": self.span[1],
                     "text": self.text[self.span[0]:self.span[1]]} if self.span else None}
        if self.model:
            out["model"] = self.model
        if self.note:
            out["note"] = self.note
        if self.items is not None:
            out["items"] = self.items
        return out
