import json
import subprocess
import sys

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.config import Settings
from qa.errors import IndexMismatchError, IndexNotFoundError
from qa.store import IndexOptions, Store, build_faiss


def test_round_trip_in_a_fresh_process(bot, settings):
    expected = bot.ask("Who is Serbia's main big power ally?").text
    script = ("import json, qa; a = qa.Assistant.load(%r).ask(\"Who is Serbia's main big "
              "power ally?\"); print(json.dumps(a.to_dict()))") % str(bot.index_dir)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=True)
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["answer"] == expected and answer["found"]
    assert "main big power ally" in answer["answer"]


def test_interrupted_save_leaves_previous_index_loadable(bot, settings, embedder, tmp_path,
                                                         monkeypatch):
    before = bot.ask("How many people live in Kosovo?").text
    extra = tmp_path / "extra.txt"
    extra.write_text("The museum opens at nine o'clock every morning.")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(np, "save", crash)  # dies after the FAISS file, before the manifest
    with pytest.raises(KeyboardInterrupt):
        bot.add([extra])
    monkeypatch.undo()
    again = Assistant.load(bot.index_dir, settings, embedder)
    assert [d["source"] for d in again.documents()] == ["russia-warns-kosovo.txt"]
    assert again.ask("How many people live in Kosovo?").text == before
    report = again.add([extra])  # a rerun completes and cleans the debris
    assert report.added == 1
    assert not list(bot.index_dir.glob(".data-*"))
    # the live generation and the one before it, which a reader may still be reading
    live = json.loads((bot.index_dir / "manifest.json").read_text())["data"]
    assert live in [d.name for d in bot.index_dir.glob("data-*")]
    assert len(list(bot.index_dir.glob("data-*"))) == 2


def test_index_from_another_model_is_refused_with_the_fix(bot, settings):
    other = settings.with_(model="someone/another-model")
    with pytest.raises(IndexMismatchError, match="model=.*rebuild it with: qa index"):
        Assistant.load(bot.index_dir, other)


def test_index_from_another_backend_is_refused(bot, settings):
    with pytest.raises(IndexMismatchError, match="backend='onnx'.*backend='torch'"):
        Assistant.load(bot.index_dir, settings.with_(backend="torch"))


def test_torch_backend_answers_too(tmp_path, settings, torch_embedder):
    from qa.assistant import BUNDLED

    bot = Assistant.from_paths([BUNDLED], tmp_path / "ix", settings.with_(backend="torch"),
                               torch_embedder)
    assert "humanitarian catastrophe" in bot.ask("What did Botsan-Kharchenko warn?").text


def test_missing_index_says_how_to_build_one(tmp_path, settings):
    with pytest.raises(IndexNotFoundError, match="qa index PATH... --index-dir"):
        Assistant.load(tmp_path / "nothing", settings)


def test_inconsistent_manifest_is_refused(bot, settings):
    manifest = bot.index_dir / "manifest.json"
    data = json.loads(manifest.read_text())
    data["counts"]["chunks"] += 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match="inconsistent"):
        Assistant.load(bot.index_dir, settings)


def test_no_pickle_in_index_files(bot):
    data = next(bot.index_dir.glob("data-*"))
    assert sorted(p.name for p in data.iterdir()) == [
        "chunks.jsonl", "documents.jsonl", "sentences.npy", "vectors.faiss"]
    np.load(data / "sentences.npy", allow_pickle=False)


def test_hnsw_recall_against_exact_search():
    rng = np.random.default_rng(7)  # clustered unit vectors, as in benchmarks/large_index.py
    centers = rng.normal(size=(200, 384)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    points = centers[rng.integers(0, 200, 20_000)] + 0.06 * rng.normal(size=(20_000, 384))
    points = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    queries = points[rng.choice(len(points), 100, replace=False)]
    queries = queries + 0.03 * rng.normal(size=queries.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = build_faiss(points, IndexOptions(index_type="flat"))
    approx = build_faiss(points, IndexOptions(index_type="auto", hnsw_threshold=10_000))
    assert type(approx).__name__ == "IndexHNSWSQ"
    _, truth = exact.search(queries, 10)
    _, found = approx.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)])
    assert recall >= 0.95


def test_empty_store_searches_nothing(tmp_path):
    store = Store(tmp_path, {"model": "m"}, 8)
    rows, scores = store.dense(np.ones(8, dtype=np.float32), 5)
    assert len(rows) == 0 and len(scores) == 0


def test_a_load_during_saves_never_sees_a_damaged_index(bot, settings, embedder, tmp_path):
    """A writer saves over and over while a reader loads: every load succeeds."""
    import threading

    notes = tmp_path / "notes.txt"
    failures: list[str] = []
    stop = threading.Event()

    def write() -> None:
        for i in range(25):
            notes.write_text(f"The reading room closes at {i} o'clock.")
            bot.add([notes])
        stop.set()

    writer = threading.Thread(target=write)
    writer.start()
    loads = 0
    while not stop.is_set() or loads == 0:
        try:
            Store.load(bot.index_dir, settings.index_shape(), IndexOptions())
        except (IndexMismatchError, IndexNotFoundError) as exc:
            failures.append(str(exc))
        loads += 1
    writer.join()
    assert loads > 25 and failures == []


def test_hnsw_search_depth_comes_from_the_settings_not_the_file(bot, settings, tmp_path):
    saved = IndexOptions(index_type="hnsw", hnsw_ef_search=16)
    store = Store(tmp_path / "ix", settings.index_shape(), bot.store.dimension, saved,
                  dict(bot.store.entries))
    store.save()
    assert Store.load(tmp_path / "ix", settings.index_shape(), saved).index.hnsw.efSearch == 16
    wanted = IndexOptions(index_type="hnsw", hnsw_ef_search=200)
    assert Store.load(tmp_path / "ix", settings.index_shape(), wanted).index.hnsw.efSearch == 200
    assert IndexOptions().hnsw_ef_search == Settings().hnsw_ef_search
