"""qa: ask questions about your documents, offline, with cited answers.

    >>> from qa import ask
    >>> ask("What did Botsan-Kharchenko warn?").text
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from .answering import Answer, Source
from .assistant import Assistant
from .errors import QAError

__all__ = ["ask", "Assistant", "Answer", "Source", "QAError"]

logging.getLogger(__name__).addHandler(logging.NullHandler())

_default: dict[str, Assistant] = {}
_default_lock = threading.Lock()


def ask(question: str, history: Sequence[dict[str, Any]] | None = None,
        index_dir: str | os.PathLike[str] | None = None) -> Answer:
    """Answer a question about the bundled article (or the index in `index_dir`).

    The bundled article's index is built in the default index folder on first
    use and loaded from there afterwards.

    Raises:
        QAError: on an empty question or a damaged index (the message says how to fix it).
    """
    key = str(index_dir or "")
    with _default_lock:
        if key not in _default:
            _default[key] = Assistant.bundled(index_dir)
    return _default[key].ask(question, history)
