"""Reading the conversation: which questions are follow-ups, what they follow,
and which documents the previous answer came from.

History is a list of {"role", "content"} messages, as Gradio and chat APIs
pass them; content may be a string or a list of {"type": "text", "text"} parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# Third-person pronouns and "there"/"then", in English and the main European
# languages qa stems (Chinese, Japanese and Thai questions that lean on the
# conversation are short, and _SHORT catches them).
_PRONOUN = re.compile(r"(?<!\w)(?:%s)(?!\w)" % "|".join("""
he she him his her hers they them their it its this that these those there then
er sie ihm ihn ihr ihnen dort damals dieser diese dieses él ella ellos ellas allí entonces
il elle ils elles lui leur là alors lei loro allora ele ela eles elas dele dela lá então
el ea ei ele lui acolo atunci hij zij hem haar daar toen он она оно они его её ее их там тогда
""".split()), re.I)
_SHORT = 3  # "Since when?", "Why?", "And Serbia?": too short to stand alone
# What a follow-up reads of any one history message (a question is at most
# 2,000 characters; clients may send any history): a megabyte of history
# never reaches the embedding model or the term matching.
HISTORY_CHARS = 2_000


def is_follow_up(question: str) -> bool:
    """Whether the question leans on the conversation (a pronoun, or too short)."""
    return bool(_PRONOUN.search(question)) or len(re.findall(r"\w+", question)) <= _SHORT


def text_of(message: Any, limit: int = HISTORY_CHARS) -> str:
    """The text of one history message, whatever shape its content has (its
    first `limit` characters)."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content[:limit]
    if isinstance(content, list):
        out, size = [], 0
        for part in content:
            if isinstance(part, dict) and size < limit:
                text = str(part.get("text", ""))[:limit - size]
                out.append(text)
                size += len(text) + 1
        return " ".join(out)[:limit]
    return ""


def last(history: Sequence[dict[str, Any]] | None, role: str) -> str | None:
    """The last non-empty message from `role` ("user" or "assistant")."""
    for message in reversed(history or []):
        if isinstance(message, dict) and message.get("role") == role:
            text = text_of(message).strip()
            if text:
                return text
    return None


def previous_documents(history: Sequence[dict[str, Any]] | None,
                       names: Iterable[tuple[str, str]],
                       containing: Callable[[str], set[str]]) -> set[str]:
    """Paths of the documents the last answer cited.

    Args:
        history: the conversation so far.
        names: (path, display name) of each indexed document.
        containing: paths of the documents whose text holds a snippet.

    Returns:
        Paths whose name the answer cites (as the chat does), or else whose
        text holds the answer's opening words (as extractive answers are).
    """
    answer = last(history, "assistant")
    if not answer:
        return set()
    named = {path for path, name in names if name and name in answer}
    if named:
        return named
    opening = answer.split(" **[", 1)[0].strip()[:120]
    if len(opening) < 20:
        return set()
    return containing(opening)
