"""The LangChain `BaseRetriever` adapter over an Assistant's index, so the
retriever fits in chains. (Ranking itself is each store's hybrid search.)"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever


class QARetriever(BaseRetriever):
    """LangChain retriever over an Assistant's index.

    Returns one `Document` per retrieved chunk, with the citation in metadata
    (source, start, end, page, score).
    """

    assistant: Any
    k: int = 4

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None, **kwargs: Any,
    ) -> list[LCDocument]:
        """`k` at call time (`invoke(query, k=2)`) overrides the retriever's own."""
        return [
            LCDocument(
                page_content=source.text,
                metadata={"source": source.source, "start": source.start, "end": source.end,
                          "page": source.page, "score": source.score},
            )
            for source in self.assistant.retrieve(query, k=self.k if k is None else k)
        ]
