"""Errors raised by qa. Every message names the problem and the fix."""

from __future__ import annotations


class QAError(Exception):
    """Base class for all errors qa raises on purpose."""


class DocumentError(QAError):
    """A file could not be read as a document."""


class IndexNotFoundError(QAError):
    """No index exists in the given folder."""


class IndexMismatchError(QAError):
    """The index on disk was built with other settings, or is damaged.

    `recorded` holds the settings the index was built with (model, backend,
    chunking) when those are what differ."""

    def __init__(self, message: str, recorded: dict | None = None) -> None:
        super().__init__(message)
        self.recorded = recorded


class QuestionError(QAError):
    """The question cannot be answered as given (empty, too long)."""
