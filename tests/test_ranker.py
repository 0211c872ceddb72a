"""The shipped answer ranker is what benchmarks/fit_ranker.py fits, on the
features qa computes today."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.answering import extractive
from qa.answering.extractive import Ranker
from qa.evaluation import load_eval

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import fit_ranker  # noqa: E402

SHIPPED = extractive.RANKERS / "default.json"
TABLE = fit_ranker.TABLES / "default.npz"


def test_shipped_weights_are_what_the_script_fits():
    shipped = json.loads(SHIPPED.read_text())
    table = dict(np.load(TABLE))
    refit = fit_ranker.fit(table, np.ones(len(table["y"]), bool), shipped["l2"])
    assert shipped["features"] in (list(extractive.FEATURES),
                                   [*extractive.FEATURES, extractive.READER])
    assert table["x"].shape[1] == len(shipped["features"])
    np.testing.assert_allclose(refit["weights"], shipped["weights"], rtol=1e-4, atol=1e-4)
    assert refit["none"] == pytest.approx(shipped["none"], abs=1e-3)


@pytest.mark.slow
def test_shipped_threshold_is_the_cross_validated_one(capsys):
    shipped = json.loads(SHIPPED.read_text())
    table = dict(np.load(TABLE))
    chosen = fit_ranker.fit_and_report(table)
    # with the answer model, the threshold fitted is the one on its probability
    wanted = shipped.get("reader_threshold", shipped["threshold"])
    assert (chosen["l2"], chosen["threshold"]) == (shipped["l2"], wanted)
    assert "ECE" in capsys.readouterr().out


def test_table_holds_todays_features(bot):
    """The dev-set rows of the fitting table are the features `ask` computes now:
    a change to the features, the chunking or the vectors needs a refit."""
    table = dict(np.load(TABLE))
    shipped = Ranker.for_model("packaged")
    now = fit_ranker.collect(bot, load_eval(fit_ranker.DEV).items,
                             shipped if shipped.reads else None)
    saved = table["x"][table["dev"]]
    assert saved.shape == np.array(now["x"]).shape, "re-run benchmarks/fit_ranker.py"
    base = len(extractive.FEATURES)
    np.testing.assert_allclose(np.array(now["x"])[:, :base], saved[:, :base], atol=2e-3,
                               err_msg="re-run benchmarks/fit_ranker.py")
    # the answer model's int8 log-odds move a little with onnxruntime's threads
    np.testing.assert_allclose(np.array(now["x"])[:, base:], saved[:, base:], atol=0.05,
                               err_msg="re-run benchmarks/fit_ranker.py --reader")
    assert np.array_equal(np.array(now["y"]), table["y"][table["dev"]])


def test_probabilities_leave_room_for_not_in_the_documents():
    ranker = Ranker(np.array([1.0, 0, 0, 0, 0, 0, 0], np.float32), none=0.0, threshold=0.5)
    p = ranker.probabilities(np.array([[2.0] + [0] * 6, [0.0] * 7], np.float32))
    assert p.argmax() == 0 and p.sum() < 1
    # e^2 / (e^2 + e^0 + e^0 for "none")
    assert p[0] == pytest.approx(np.exp(2) / (np.exp(2) + 2))


def test_each_model_has_its_own_ranker():
    assert extractive.ranker_name("multilingual") == "multilingual-e5-small"
    assert extractive.ranker_name("sentence-transformers/all-MiniLM-L6-v2") == "default"
    other = Ranker.for_model("some/online-model")  # no ranker of its own: the default one
    assert np.array_equal(other.weights, Ranker.for_model("packaged").weights)


def test_a_question_in_another_language_gets_the_ranker_without_terms():
    ranker = Ranker.for_model("multilingual")
    store, hits = passage("Russia warned the United States and the European Union on Monday.")
    assert ranker.choose("Wovor hat Russland die USA gewarnt?", store, hits) == \
        (ranker.across, 0.0, True)
    assert ranker.choose("What did Russia warn the United States about?", store, hits) == \
        (ranker, ranker.threshold, False)
    blank = [i for i, f in enumerate(extractive.FEATURES) if f not in extractive.ACROSS]
    assert ranker.across is not None and not ranker.across.weights[blank].any()
    # the English-only default has no such ranker: it keeps its own, and its threshold
    default = Ranker.for_model("packaged")
    assert default.across is None
    assert default.choose("Wovor hat Russland die USA gewarnt?", store, hits) == \
        (default, default.threshold, True)


def test_the_multilingual_model_has_a_ranker_per_native_language():
    """Chinese, Arabic, Russian and Thai questions get the ranker fitted on
    their own language's questions (qa_train/), with its own threshold."""
    ranker = Ranker.for_model("multilingual")
    assert sorted(ranker.languages) == ["ar", "ru", "th", "zh"]
    for lang, question, text in [
            ("zh", "科索沃有多少北约士兵？", "北约在科索沃有一万六千名士兵。"),
            ("ru", "Сколько солдат НАТО в Косово?", "В Косово находятся 16 000 солдат НАТО."),
            ("ar", "كم عدد جنود الناتو في كوسوفو؟", "يوجد في كوسوفو 16 ألف جندي من الناتو."),
            ("th", "มีทหารนาโต้ในโคโซโวกี่นาย", "นาโต้มีทหาร 16,000 นายในโคโซโว")]:
        own = ranker.languages[lang]
        assert ranker.choose(question, *passage(text)) == (own, own.threshold, False), lang
        assert not np.array_equal(own.weights, ranker.weights)
    # a language without native questions keeps the English-fitted weights, no threshold
    assert ranker.choose("Wie viele NATO-Soldaten sind im Kosovo?",
                         *passage("Die NATO hat 16.000 Soldaten im Kosovo.")) == (ranker, 0.0, False)
    # across languages, the ranker without terms
    assert ranker.choose("科索沃有多少北约士兵？",
                         *passage("NATO has 16,000 of its troops in Kosovo, and they are there to "
                                 "keep the peace, the alliance said.")) == \
        (ranker.across, 0.0, True)


def test_the_native_rankers_are_what_the_script_fits():
    shipped = json.loads((extractive.RANKERS / "multilingual-e5-small.json").read_text())
    table = dict(np.load(fit_ranker.TABLES / "multilingual-e5-small-native.npz"))
    for lang, own in shipped["languages"].items():
        rows = table["lang"] == lang
        part = {k: v[rows] for k, v in table.items() if k != "lang"}
        refit = fit_ranker.fit(part, np.ones(int(rows.sum()), bool), own["l2"])
        np.testing.assert_allclose(refit["weights"], own["weights"], rtol=1e-4, atol=1e-4)
        assert refit["none"] == pytest.approx(own["none"], abs=1e-3)
        assert 0.0 <= own["threshold"] < 0.5


def test_the_threshold_holds_in_the_language_it_was_fitted_in():
    ranker = Ranker.for_model("packaged")
    assert ranker.threshold > 0
    english = passage("NATO has 16,000 troops in Kosovo.")
    assert ranker.choose("How many NATO troops are in Kosovo?", *english)[1] == ranker.threshold
    for question, text in [("Wie viele NATO-Soldaten sind im Kosovo?",
                            "Die NATO hat 16.000 Soldaten im Kosovo."),
                           ("科索沃有多少北约士兵？", "北约在科索沃有一万六千名士兵。"),
                           ("Сколько солдат НАТО в Косово?", "В Косово находятся 16 000 солдат НАТО.")]:
        assert ranker.choose(question, *passage(text)) == (ranker, 0.0, False), question


def passage(text: str):
    """A store holding one chunk, and the hit on it."""
    from types import SimpleNamespace

    from qa.chunking import Span

    doc = SimpleNamespace(text=text)
    store = SimpleNamespace(chunks=[SimpleNamespace(text=text)],
                            chunk_sentence_rows=[range(0, 1)], sentence_kind=["body"],
                            sentence_spans=[Span(0, len(text))], sentence_doc=["doc"],
                            document=lambda key: doc)
    return store, [SimpleNamespace(row=0)]


@pytest.mark.parametrize("content", [None, "{not json", '{"features": []}',
                                     '{"features": "x", "weights": [1]}'])
def test_a_missing_or_damaged_ranker_file_fails_at_start_in_one_line(bot, tmp_path,
                                                                       monkeypatch, content):
    """Not at every question (which were 500s while /healthz said ok)."""
    from qa import Assistant
    from qa.answering import extractive
    from qa.errors import QAError

    folder = tmp_path / "rankers"
    folder.mkdir()
    if content is not None:
        (folder / "default.json").write_text(content)
    monkeypatch.setattr(extractive, "RANKERS", folder)
    extractive.Ranker.for_model.__func__.cache_clear()
    try:
        with pytest.raises(QAError) as raised:
            Assistant.load(bot.index_dir, bot.settings, bot.embedder)
        message = str(raised.value)
        assert str(folder / "default.json") in message and "fit_ranker.py" in message
        assert "\n" not in message
    finally:
        monkeypatch.undo()
        extractive.Ranker.for_model.__func__.cache_clear()
