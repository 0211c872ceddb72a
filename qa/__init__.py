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

from .answering import Answer, Claim, Source
from .assistant import Assistant
from .errors import QAError

__all__ = ["ask", "Assistant", "Answer", "Claim", "Source", "QAError"]

logging.getLogger(__name__).addHandler(logging.NullHandler())

_default: dict[str, Assistant] = {}
_default_lock = threading.Lock()


def ask(question: str, history: Sequence[dict[str, Any]] | None = None,
        index_dir: str | os.PathLike[str] | None = None, llm: Any = None,
        store: str | None = None) -> Answer:
    """Answer a question about the bundled article (or the index in `index_dir`).

    The bundled article's index is built in the default index folder on first
    use and loaded from there afterwards. `llm` (a LangChain chat model, or a
    string such as "ollama:llama3.2" or "gguf:/path/model.gguf") makes the
    answer generated and verified against the documents. `store` (or QA_STORE)
    puts the index in Milvus: "milvus:///abs/path/qa.db" or "milvus://host:19530".

    Raises:
        QAError: on an empty question or a damaged index (the message says how to fix it).
    """
    key = f"{index_dir or ''}|{llm if isinstance(llm, str) or llm is None else id(llm)}|{store}"
    with _default_lock:
        if key not in _default:
            _default[key] = Assistant.bundled(index_dir, llm=llm, store=store)
    return _default[key].ask(question, history)
