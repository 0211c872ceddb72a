"""OpenAI's chat-completions protocol for /v1/chat/completions: the request,
what qa cannot do (refused with 400), stop and max_tokens, usage, and the
streamed chunks. The answering itself is the Assistant's.

Token counts: a chat model's own, when one answered and reported them;
otherwise the packaged model's WordPiece tokenizer (all-MiniLM-L6-v2's, the
bert-base-uncased vocabulary) over the messages' text and the reply's.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .answering import Answer


class Message(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """OpenAI's chat-completions request; fields qa does not use are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = "qa"
    messages: list[Message]
    stream: bool = False
    collection: str | None = None
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None


class Unsupported(Exception):
    """A request for something qa does not do: a 400 naming the parameter."""

    def __init__(self, message: str, param: str, code: str = "unsupported_value") -> None:
        super().__init__(message)
        self.param, self.code = param, code


def check(body: ChatRequest) -> None:
    """Refuse what a document QA model cannot honour, rather than ignore it.

    Raises:
        Unsupported: n other than 1, a required tool call, or a JSON reply format.
    """
    if body.n not in (None, 1):
        raise Unsupported(f"n must be 1 (got {body.n}): qa gives one answer per request", "n")
    if body.tool_choice == "required" or isinstance(body.tool_choice, dict):
        raise Unsupported("tool calls are not supported: qa answers from documents and calls "
                          "no tools (tool_choice must be 'auto' or 'none')", "tool_choice")
    kind = (body.response_format or {}).get("type", "text")
    if kind != "text":
        raise Unsupported(f"response_format {kind!r} is not supported: qa replies with text "
                          f"(with [n] citation marks)", "response_format")


@functools.lru_cache(maxsize=1)
def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    from .embeddings import packaged_model_path

    tokenizer = Tokenizer.from_file(str(packaged_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count(text: str) -> int:
    """Tokens in `text` by the packaged model's tokenizer."""
    return len(_tokenizer().encode(text, add_special_tokens=False).ids) if text else 0


def shape(text: str, stop: str | list[str] | None, max_tokens: int | None) -> tuple[str, str]:
    """The reply cut at the first stop sequence, then at `max_tokens` tokens,
    with its finish_reason ("stop" or "length")."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cuts = [text.find(s) for s in stops if s and s in text]
    if cuts:
        text = text[:min(cuts)]
    if max_tokens is not None:
        offsets = _tokenizer().encode(text, add_special_tokens=False).offsets
        if len(offsets) > max_tokens:
            return text[:offsets[max_tokens - 1][1]], "length"
    return text, "stop"


def usage(messages: list[dict[str, Any]], reply: str, answer: Answer) -> dict[str, int]:
    """prompt/completion/total tokens: the chat model's own counts when it
    answered and reported them, else the packaged tokenizer's."""
    if answer.mode == "generated" and answer.usage:
        prompt, completion = answer.usage["prompt_tokens"], answer.usage["completion_tokens"]
    else:
        prompt = sum(count(text_of(m)) for m in messages)
        completion = count(reply)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def chunks(ident: str, model: str, reply: str, finish: str, answer: Answer,
           used: dict[str, int] | None) -> Iterator[str]:
    """Server-sent events: the reply in pieces, the finish_reason chunk, then
    qa_sources in the last chunk; with `used` (stream_options.include_usage),
    every chunk says "usage": null and the last one, with no choices, carries
    the usage and qa_sources.

    The reply is the verified answer, so nothing unsupported is ever streamed.
    """
    created = int(time.time())
    extra: dict[str, Any] = {"usage": None} if used is not None else {}

    def event(body: dict[str, Any]) -> str:
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def delta(content: dict[str, Any], reason: str | None = None, **more: Any) -> str:
        return event({"id": ident, "object": "chat.completion.chunk", "created": created,
                      "model": model, "choices": [{"index": 0, "delta": content,
                                                   "finish_reason": reason}],
                      **extra, **more})

    yield delta({"role": "assistant", "content": ""})
    words = reply.split(" ")
    for i in range(0, len(words), 8):
        yield delta({"content": " ".join(words[i:i + 8]) + (" " if i + 8 < len(words) else "")})
    sources = {"qa_sources": [s.to_dict() for s in answer.sources],
               "qa_answer": answer.to_dict()}
    if used is None:
        yield delta({}, finish, **sources)
    else:  # the sources ride in the last chunk, with the usage
        yield delta({}, finish)
        yield event({"id": ident, "object": "chat.completion.chunk", "created": created,
                     "model": model, "choices": [], "usage": used, **sources})
    yield "data: [DONE]\n\n"
