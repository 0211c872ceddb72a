"""Answers from a LangChain chat model over numbered passages, streamed, then verified.

The model sees the retrieved chunks as numbered passages (whole sentences,
each passage carrying its document offsets) and is asked for a short answer
that cites them as [n], or for REFUSAL. Its tokens stream out as they come;
the finished text is checked claim by claim (verify.py). When the model
refuses, fails, times out, returns nothing usable or nothing it says is
supported, the extractive answer is given instead, marked "fallback".
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..config import Settings
from ..errors import QAError
from ..store.records import Hit
from ..store.records import Records as Store
from . import Answer, Claim
from .followup import text_of
from .verify import Passage, verify

logger = logging.getLogger(__name__)

REFUSAL = "I cannot find the answer in the documents."
SYSTEM = (
    "You answer questions using only the numbered passages you are given. "
    "Answer in one or two short sentences copied or closely paraphrased from the passages. "
    "End each sentence with the number of the passage it comes from in brackets, like [2]. "
    f"If the passages do not contain the answer, reply with exactly: {REFUSAL}"
)
REWRITE = (
    "Rewrite the last question as one standalone question that can be understood without "
    "the conversation. Reply with the question only."
)


def chat_model(spec: Any, settings: Settings) -> tuple[Any, str]:
    """A LangChain chat model and its display name, from QA_LLM / llm=.

    `spec` is a BaseChatModel, or a string for init_chat_model such as
    "ollama:llama3.2" or "openai:gpt-4o-mini" (QA_LLM_BASE_URL points openai:
    at any OpenAI-compatible server), or "gguf:/path/model.gguf" for a local
    model served by xllamacpp.

    Raises:
        QAError: a missing provider package (names the pip install) or a bad spec.
    """
    if not isinstance(spec, str):
        name = getattr(spec, "model_name", None) or getattr(spec, "model", None)
        return spec, str(name or type(spec).__name__)
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {}
    name = spec
    from .local import ALIASES, PACKAGED, packaged

    if spec in PACKAGED or spec in ALIASES:  # a local model installed as a package
        spec = f"gguf:{packaged(spec)}"
    if spec.startswith("gguf:"):
        from .local import serve

        path = spec[len("gguf:"):]
        kwargs = {"base_url": serve(path), "api_key": "local", "temperature": 0.0,
                  "max_tokens": settings.llm_max_tokens}
        spec, name = "openai:local", f"gguf:{path.rsplit('/', 1)[-1]}"
    elif spec.startswith("openai:") and settings.llm_base_url:
        import os

        kwargs = {"base_url": settings.llm_base_url,
                  "api_key": os.environ.get("OPENAI_API_KEY") or "none"}
    if spec.startswith("openai:"):
        kwargs["timeout"] = settings.llm_timeout
        kwargs["stream_usage"] = True  # token counts for the API's usage
        kwargs["max_retries"] = 0  # a model that is down falls back now, not after retries
    try:
        return init_chat_model(spec, **kwargs), name
    except (ImportError, AttributeError) as exc:  # no provider package (or only the old one)
        raise QAError(f"the model {spec!r} needs its provider package "
                      f"({' '.join(str(exc).split())[:120]}); install it with: "
                      f"pip install 'qa[llm]'") from None
    except ValueError as exc:
        raise QAError(f"cannot use the model {spec!r}: {' '.join(str(exc).split())[:200]}; "
                      f"give provider:model, e.g. ollama:llama3.2 or openai:gpt-4o-mini, "
                      f"or gguf:/path/model.gguf") from None


def passages(store: Store, hits: Sequence[Hit], limit: int) -> list[Passage]:
    """The best `limit` retrieved chunks, numbered from 1."""
    out = []
    for number, hit in enumerate(hits[:limit], 1):
        chunk = store.chunks[hit.row]
        out.append(Passage(number, chunk.path, chunk.source, chunk.start, chunk.end,
                           chunk.text, chunk.page, store.chunk_sentence_rows[hit.row]))
    return out


def prompt(question: str, shown: Sequence[Passage]) -> list[tuple[str, str]]:
    blocks = "\n\n".join(f"[{p.number}] {' '.join(p.text.split())}" for p in shown)
    return [("system", SYSTEM), ("user", f"Passages:\n\n{blocks}\n\nQuestion: {question}")]


def stream_text(model: Any, messages: Any, timeout: float,
                usage: dict[str, int] | None = None) -> Iterator[str]:
    """The model's text as it streams; the model's token counts, when it
    reports them, are added up in `usage`.

    Raises:
        TimeoutError: nothing more within `timeout` seconds of the start.
        Exception: whatever the model raised.
    """
    pieces: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()  # set when the reader gives up: the model is cut off

    def work() -> None:
        try:
            for chunk in model.stream(messages):
                if stop.is_set():
                    break  # (closing the stream ends the model's work where it can)
                counted = getattr(chunk, "usage_metadata", None)
                if counted and usage is not None:
                    usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + \
                        int(counted.get("input_tokens", 0))
                    usage["completion_tokens"] = usage.get("completion_tokens", 0) + \
                        int(counted.get("output_tokens", 0))
                pieces.put(("text", getattr(chunk, "text", None) or _content(chunk)))
            pieces.put(("done", None))
        except BaseException as exc:  # handed to the reader
            pieces.put(("error", exc))

    if timeout <= 0:
        raise TimeoutError("no time is left for the model")
    threading.Thread(target=work, daemon=True, name="qa-llm").start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            kind, value = pieces.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            stop.set()
            raise TimeoutError(f"the model gave no full answer within {timeout:g} s") from None
        if kind == "done":
            return
        if kind == "error":
            raise value
        if value:
            yield str(value)


def standalone(model: Any, question: str, history: Sequence[dict[str, Any]],
               timeout: float) -> str | None:
    """The follow-up rewritten by the model into a standalone question, or None."""
    turns = [(m.get("role", "user"), text_of(m)) for m in history[-4:] if isinstance(m, dict)]
    turns = [(role, text[:500]) for role, text in turns if role in ("user", "assistant") and text]
    try:
        text = "".join(stream_text(model, [("system", REWRITE), *turns, ("user", question)],
                                   timeout)).strip()
    except Exception as exc:  # any model failure: the caller keeps the heuristic
        logger.info("follow-up rewrite failed: %s", exc)
        return None
    text = text.splitlines()[0].strip(' "') if text else ""
    return text if 3 <= len(text) <= 300 else None


def generate(model: Any, name: str, question: str, history: Sequence[dict[str, Any]] | None,
             store: Store, hits: Sequence[Hit], embedder: Any, settings: Settings,
             fallback: Callable[[], Answer],
             answers: Callable[[list[int], str], bool],
             budget: float | None = None) -> Iterator[str | Answer]:
    """Stream the model's answer, then yield the verified Answer (or the fallback).

    Args:
        fallback: the extractive answer, made only when needed.
        answers: whether supported claims (their text, and the sentence rows
            supporting them) address the question; when not, the extractive
            answer (or abstention) stands.
        budget: seconds the model may take (default QA_LLM_BUDGET_S); past
            them it is cut off and the extractive answer stands.
    """
    shown = passages(store, hits, settings.llm_passages)
    embedder = _Remembered(embedder)  # claims checked while streaming are not embedded again
    text, checked_to = "", 0
    used: dict[str, int] = {}
    budget = settings.llm_budget_s if budget is None else budget
    if shown:
        try:
            for piece in stream_text(model, prompt(question, shown), budget, used):
                text += piece
                # Only claims that are verified are streamed, a sentence at a time:
                # what the model invents never leaves the server.
                done = _complete(text)
                if done > checked_to:
                    yield from _supported(text[checked_to:done], shown, store, embedder,
                                          settings)
                    checked_to = done
            yield from _supported(text[checked_to:], shown, store, embedder, settings)
        except TimeoutError:  # over the budget: the extractive answer stands
            logger.warning("the model %s took longer than %g s", name, budget)
            yield _fallback(fallback, name, f"The model {name} took longer than the "
                            f"{settings.llm_budget_s:g} s budget (QA_LLM_BUDGET_S) and was cut off")
            return
        except Exception as exc:  # down, refused the request: fall back
            logger.warning("the model %s failed: %s", name, exc)
            yield _fallback(fallback, name, f"The model {name} failed "
                            f"({type(exc).__name__})")
            return
    if not text.strip() or _refused(text):
        yield _fallback(fallback, name, f"The model {name} found no answer in the passages")
        return
    checked = verify(text, shown, store, embedder, settings.support_threshold)
    supported = [c for c in checked.claims if c.supported]
    if not supported:
        yield _fallback(fallback, name, f"The documents do not support what the model {name} "
                        f"said", checked.claims)
        return
    if not answers(checked.rows, " ".join(c.text for c in supported)):
        yield _fallback(fallback, name, f"What the model {name} said does not answer the "
                        f"question", checked.claims)
        return
    answer_text = " ".join(_cited(c.text, c.sources) for c in supported)
    yield Answer(answer_text, True, checked.sources,
                 score=min(c.score for c in supported), mode="generated",
                 claims=checked.claims, model=name, corrections=checked.corrections,
                 usage=used if {"prompt_tokens", "completion_tokens"} <= set(used) else None)


# Where a claim has surely ended: after . ! ? (and closing quotes or a [n]
# mark), once the next sentence has begun.
_ENDED = re.compile(r"(?:[.!?][\"'”’)\]]*(?:\s*\[\d+(?:\s*,\s*\d+)*\])*|\])\s+(?=[\"'“‘(]?[A-Z0-9])")


class _Remembered:
    """An embedder that embeds each text once per answer."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.known: dict[str, Any] = {}

    def encode(self, texts: list[str]) -> Any:
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self.known))
        if missing:
            self.known.update(zip(missing, self.inner.encode(missing)))
        return np.array([self.known[t] for t in texts], dtype=np.float32).reshape(
            len(texts), -1)


def _supported(text: str, shown: list[Passage], store: Store, embedder: Any,
               settings: Settings) -> Iterator[str]:
    """The claims of `text` that the passages support, each as a piece to stream."""
    if text.strip():
        for claim in verify(text, shown, store, embedder, settings.support_threshold).claims:
            if claim.supported:
                yield claim.text + " "


def _complete(text: str) -> int:
    """The end of the last whole sentence in a growing answer (0: none yet)."""
    ends = [m.end() for m in _ENDED.finditer(text)]
    return ends[-1] if ends else 0


def _fallback(fallback: Callable[[], Answer], name: str, why: str,
              claims: list | None = None) -> Answer:
    """The extractive answer, with a note saying why and what it is."""
    answer = fallback()
    what = "this is the best-supported sentence from the documents instead" if answer.found \
        else "and no sentence of the documents answers the question either"
    answer.mode, answer.model, answer.note = "fallback", name, f"{why}; {what}."
    # What the model said stays visible, but nothing of it is shown as sourced.
    answer.claims = [Claim(c.text, [], c.supported, c.score) for c in claims or []]
    return answer


def _cited(text: str, sources: list[int]) -> str:
    """The claim with its [n] marks before its closing punctuation."""
    marks = "".join(f" [{i + 1}]" for i in sources)
    body = text.rstrip()
    if body[-1:] in ".!?":
        return f"{body[:-1]}{marks}{body[-1]}"
    return body + marks


def _refused(text: str) -> bool:
    said = " ".join(text.lower().split())
    return REFUSAL.lower().rstrip(".") in said or said.startswith(("i cannot", "i can't",
                                                                    "i don't know"))


def _content(chunk: Any) -> str:
    content = getattr(chunk, "content", "")
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")

