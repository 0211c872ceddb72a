"""LangChain's own standard retriever tests (langchain-tests), run against as_retriever()."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from qa.retrieval import QARetriever


class TestQARetriever(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _assistant(self, bot):  # type: ignore[no-untyped-def]
        type(self).assistant = bot

    @property
    def retriever_constructor(self) -> type[QARetriever]:
        return QARetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"assistant": self.assistant}

    @property
    def retriever_query_example(self) -> str:
        return "What did Botsan-Kharchenko warn?"
