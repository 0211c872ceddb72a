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
    assert not list(bot.index_dir.glob(".seg-*"))
    # the article's segment and the added file's: the crashed one's debris is gone
    live = [s["name"] for s in json.loads((bot.index_dir / "manifest.json").read_text())[
        "segments"]]
    assert sorted(d.name for d in bot.index_dir.glob("seg-*")) == sorted(live)
    assert len(live) == 2


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
    data = next(bot.index_dir.glob("seg-*"))
    postings = [f"postings-{name}.npy" for name in ("indptr", "lengths", "rows", "terms", "tf")]
    assert sorted(p.name for p in data.iterdir()) == [
        "chunks.jsonl", "documents.jsonl", *postings, "sentences.npy", "vectors.npy"]
    for name in ("sentences.npy", "vectors.npy", *postings):
        np.load(data / name, allow_pickle=False)


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
    graphs = Store.load(tmp_path / "ix", settings.index_shape(), saved).index.graphs()
    assert graphs and all(g.hnsw.efSearch == 16 for g in graphs)
    wanted = IndexOptions(index_type="hnsw", hnsw_ef_search=200)
    graphs = Store.load(tmp_path / "ix", settings.index_shape(), wanted).index.graphs()
    assert graphs and all(g.hnsw.efSearch == 200 for g in graphs)
    assert IndexOptions().hnsw_ef_search == Settings().hnsw_ef_search


# -- segments (issue 39) -------------------------------------------------------

FILES = {"mill.txt": "The Velde tide mill was restored in 2019 by the Korsby mill society.",
         "ferry.txt": "The Nordby ferry sails to the islands twice a day in summer.",
         "bell.txt": "The chapel bell of Edda was cast in Venice and weighs two tonnes."}


def _manifest(bot: Assistant) -> dict:
    return json.loads((bot.index_dir / "manifest.json").read_text())


def _folders(bot: Assistant) -> dict[str, bytes]:
    """Each segment folder's files, as bytes."""
    return {f"{d.name}/{f.name}": f.read_bytes() for d in bot.index_dir.glob("seg-*")
            for f in d.iterdir()}


def test_an_add_writes_one_segment_and_a_removal_a_tombstone(bot, tmp_path, settings, embedder):
    """Issue 39 item 1: adding files writes a segment of their own and leaves
    the others' files untouched; removing one writes no data, only a
    tombstone in the manifest; a fresh process sees both (and BM25 no longer
    counts the removed file's terms)."""
    before = _folders(bot)
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    bot.add([tmp_path / name for name in FILES])
    after = _folders(bot)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing rewritten
    segments = _manifest(bot)["segments"]
    assert len(segments) == 2 and all(not s["removed"] for s in segments)
    bot.remove([tmp_path / "mill.txt"])
    assert _folders(bot) == after  # a removal writes no segment
    removed = _manifest(bot)["segments"][1]["removed"]
    assert [p.rsplit("/", 1)[-1] for p in removed] == ["mill.txt"]
    again = Assistant.load(bot.index_dir, settings, embedder)
    assert sorted(d["source"] for d in again.documents()) == [
        "bell.txt", "ferry.txt", "russia-warns-kosovo.txt"]
    assert "Venice" in again.ask("Where was the chapel bell of Edda cast?").text
    assert not again.ask("Who restored the Velde tide mill?").found
    from qa.store.hybrid import Lexical

    lexical = Lexical(again.store)
    assert lexical.df("korsbi") == 0 and lexical.df("venic") == 1


def test_segments_merge_when_they_pile_up_while_a_reader_holds_the_old_ones(
        bot, tmp_path, settings, embedder, monkeypatch):
    """Issue 39 item 1: past MAX_SEGMENTS a commit merges the smallest; a
    reader that opened the index before the merge keeps answering from the
    segments it read (kept until the next commit), then moves to the merged
    index; `optimize` merges everything and drops the removed files."""
    from qa.store import faiss as store_faiss

    monkeypatch.setattr(store_faiss, "MAX_SEGMENTS", 3)
    reader = Assistant.load(bot.index_dir, settings, embedder)
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        read = {s["name"] for s in _manifest(bot)["segments"]}  # what a reader may be reading
        bot.add([tmp_path / name])
        assert len(_manifest(bot)["segments"]) <= 3
        assert read <= {d.name for d in bot.index_dir.glob("seg-*")}  # kept for that reader
    assert len(_manifest(bot)["segments"]) < 4  # the article's and three files', merged
    assert "Botsan-Kharchenko" in reader.ask("Who warned of a humanitarian catastrophe?").text
    reader.snapshot()  # the reader moves to the merged index
    assert "twice a day" in reader.ask("How often does the Nordby ferry sail?").text
    bot.remove([tmp_path / "ferry.txt"])
    bot.optimize()
    assert len(_manifest(bot)["segments"]) == 1
    assert not _manifest(bot)["segments"][0]["removed"]
    fresh = Assistant.load(bot.index_dir, settings, embedder)
    assert sorted(d["source"] for d in fresh.documents()) == [
        "bell.txt", "mill.txt", "russia-warns-kosovo.txt"]
    assert "Korsby" in fresh.ask("Who restored the Velde tide mill?").text


def test_a_crash_during_a_merge_leaves_the_index_as_it_was(
        bot, tmp_path, settings, embedder, monkeypatch):
    """Issue 39 item 1: the merge is a commit like any other: killed while it
    writes the merged segment, the index opens as before, and the next
    commit completes the merge and clears the debris."""
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        bot.add([tmp_path / name])
    before = _manifest(bot)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(np, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        bot.optimize()
    monkeypatch.undo()
    assert _manifest(bot) == before
    again = Assistant.load(bot.index_dir, settings, embedder)
    assert len(again.documents()) == 4
    again.optimize()
    assert len(_manifest(again)["segments"]) == 1 and not list(bot.index_dir.glob(".seg-*"))
    assert "Korsby" in again.ask("Who restored the Velde tide mill?").text


def test_an_index_in_the_format_before_segments_is_rewritten_once_with_a_message(
        bot, settings, embedder, caplog):
    """Issue 39 item 1: an index saved by qa before segments (format 1: one
    data folder with a FAISS file) opens, answers the same, and is rewritten
    in segments once, saying so; the second open says nothing."""
    import faiss

    expected = bot.ask("Who is Serbia's main big power ally?").text
    folder = bot.index_dir
    segment = next(folder.glob("seg-*"))
    data = folder / "data-1"
    data.mkdir()
    for name in ("documents.jsonl", "chunks.jsonl", "sentences.npy"):
        (data / name).write_bytes((segment / name).read_bytes())
    vectors = np.load(segment / "vectors.npy")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.write_index(flat, str(data / "vectors.faiss"))
    manifest = _manifest(bot)
    for key in ("segments", "hnsw", "generation"):
        manifest.pop(key)
    manifest.update(format_version=1, data="data-1")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for old in folder.glob("seg-*"):
        import shutil

        shutil.rmtree(old)
    with caplog.at_level("WARNING"):
        old = Assistant.load(folder, settings, embedder)
    assert "rewritten in format 2" in caplog.text
    assert old.ask("Who is Serbia's main big power ally?").text == expected
    assert _manifest(old)["format_version"] == 2 and len(list(folder.glob("seg-*"))) == 1
    caplog.clear()
    with caplog.at_level("WARNING"):
        again = Assistant.load(folder, settings, embedder)
    assert "rewritten" not in caplog.text
    assert again.ask("Who is Serbia's main big power ally?").text == expected


def test_loading_an_index_tokenises_nothing_for_bm25(bot, settings, embedder, monkeypatch):
    """Issue 39 item 2: BM25 reads the postings each segment saved; neither
    opening the index nor its first question splits a chunk into terms (it
    did, for every chunk, at every load: 7 s for 4 MB of text)."""
    from qa.store import hybrid

    def never(entry):
        raise AssertionError(f"{entry.doc.source} tokenised again")

    monkeypatch.setattr(hybrid, "chunk_terms", never)
    again = Assistant.load(bot.index_dir, settings, embedder)
    assert "Botsan-Kharchenko" in again.ask("Who warned of a humanitarian catastrophe?").text


def _mapped(stacked) -> bool:
    """Whether every part of a snapshot's vector view reads a mapped file."""
    from qa.store.records import _root

    return bool(stacked.parts) and all(isinstance(_root(p), np.memmap) or
                                       isinstance(p, np.memmap) for p in stacked.parts)


def test_snapshots_read_the_segments_vectors_in_place_and_share_them(
        bot, tmp_path, settings, embedder):
    """Issue 39 items 1 and 3: a saved index's vectors are read from its
    segment files, memory-mapped (the process holds no copy of them); a
    snapshot that adds or removes files reads the same arrays (nothing
    copied, the earlier snapshot unchanged), and once saved, the added files'
    vectors are read from the segment just written."""
    from qa import indexing
    from qa.documents import load

    base = bot.store
    assert _mapped(base.sentence_vectors) and _mapped(base.chunk_vectors)
    assert len(base.chunk_vectors.parts) == len(base.segments)  # a segment reads as one part
    entries = []
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        entries += indexing.embed([load(tmp_path / name)], settings, embedder, False)
    before = np.array(base.sentence_vectors)
    first = base.updated(add=[entries[0]])
    assert np.shares_memory(first.sentence_vectors.parts[0], base.sentence_vectors.parts[0])
    assert np.array_equal(np.array(base.sentence_vectors), before)
    assert np.array_equal(first.sentence_vectors[:len(before)], before)
    second = base.updated(add=[entries[1]])  # from the same snapshot: each its own rows
    assert "Korsby" in first.chunks[-1].text and "Korsby" not in second.chunks[-1].text
    third = first.updated(add=[entries[2]])
    assert "Venice" in third.chunks[-1].text and len(third.chunk_vectors) == len(third.chunks)
    row = len(third.chunks) - 1
    assert float(third.chunk_vectors[row] @ third.chunk_means[row]) > 0.9
    assert np.allclose(third.sentence_vectors[len(before):],
                       np.vstack([e.sentence_vectors for e in entries[::2]]), atol=1e-3)
    middle = third.updated(remove=[entries[0].doc.path])  # not the last: still no copy
    assert all(any(np.shares_memory(p, q) for q in third.chunk_vectors.parts)
               for p in middle.chunk_vectors.parts)
    assert "Venice" in middle.chunks[-1].text and len(middle.chunks) == len(first.chunks)
    fourth = third.updated(remove=[entries[2].doc.path])  # the last file
    assert len(fourth.chunks) == len(first.chunks) and fourth.chunks[-1].path == entries[0].doc.path
    assert "Korsby" in fourth.chunks[-1].text and len(fourth.chunk_vectors) == len(fourth.chunks)
    fourth.save()  # the added file's vectors now read from its segment's files
    assert _mapped(fourth.sentence_vectors) and _mapped(fourth.chunk_vectors)
    assert np.array_equal(fourth.chunk_vectors[:len(fourth.chunks)],
                          np.array(first.chunk_vectors))


def test_a_large_add_is_embedded_and_committed_in_groups(bot, tmp_path, settings, embedder,
                                                         monkeypatch):
    """Issue 39 item 3: an add of more than COMMIT_CHARS of text embeds and
    commits its files in groups of about that much, so indexing holds one
    group's vectors at a time (a saved group's are read back mapped); the
    report counts each file once, and a file gone from disk goes too."""
    from qa import indexing

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "pier.txt").write_text("The old pier of Velde was demolished in 1990.")
    bot.add([folder])
    (folder / "pier.txt").unlink()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(indexing, "COMMIT_CHARS", 130)  # the three files: 66 + 60, then 68
    embedded: list[list[str]] = []
    real = indexing.embed

    def embed(docs, *args, **kwargs):
        if docs:  # (the commit's call for what another writer changed meanwhile)
            embedded.append(sorted(d.source for d in docs))
        return real(docs, *args, **kwargs)

    monkeypatch.setattr(indexing, "embed", embed)
    segments = len(_manifest(bot)["segments"])
    report = bot.add([folder])
    assert embedded == [["bell.txt", "ferry.txt"], ["mill.txt"]]
    assert (report.added, report.removed, len(report.files)) == (3, 1, 3)
    assert len(_manifest(bot)["segments"]) == segments - 1 + 2  # the pier's went whole
    assert _mapped(bot.store.sentence_vectors) and _mapped(bot.store.chunk_vectors)
    # each segment read as one part, however many files it holds
    assert len(bot.store.chunk_vectors.parts) == len(_manifest(bot)["segments"])
    again = Assistant.load(bot.index_dir, settings, embedder)
    assert len(again.store.sentence_vectors.parts) == len(_manifest(bot)["segments"])
    assert sorted(d["source"] for d in again.documents()) == [
        "bell.txt", "ferry.txt", "mill.txt", "russia-warns-kosovo.txt"]
    assert "Korsby" in again.ask("Who restored the Velde tide mill?").text
    assert "Venice" in again.ask("Where was the chapel bell of Edda cast?").text


def test_large_segments_are_searched_by_graphs_of_their_own_and_a_small_add_builds_none(
        bot, tmp_path, settings, embedder, monkeypatch):
    """Issue 39: past hnsw_threshold each large segment has its own HNSW graph,
    saved beside it and read back; adding a small file writes a segment that
    is searched exactly and builds no graph (the cost follows the file);
    a removed file's rows never come back from a graph; the graphs agree
    with exact search."""
    from qa import indexing
    from qa.documents import load
    from qa.store import faiss as store_faiss

    monkeypatch.setattr(store_faiss, "LARGE", 5)
    options = IndexOptions("auto", hnsw_threshold=4)  # the article (4 chunks) and bell.txt: 5
    entries = []
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        entries += indexing.embed([load(tmp_path / name)], settings, embedder, False)
    mill, ferry, bell = entries
    store = Store(tmp_path / "ix", settings.index_shape(), bot.store.dimension, options,
                  {**bot.store.entries, bell.doc.path: bell})
    store.save()
    assert (tmp_path / "ix" / store.segments[0].name / "graph.faiss").exists()
    built: list[int] = []
    real = store_faiss.build_faiss
    monkeypatch.setattr(store_faiss, "build_faiss",
                        lambda *a, **k: (built.append(1), real(*a, **k))[1])
    added = store.commit(add=[mill])
    assert built == [] and len(added.index.graphs()) == 1 and len(added.segments) == 2
    loaded = Store.load(tmp_path / "ix", settings.index_shape(), options)
    assert len(loaded.index.graphs()) == 1
    vector = embedder.encode(["Who warned of a humanitarian catastrophe?"])[0]
    rows, _ = loaded.dense(vector, 5)
    exact = np.argsort(-(np.array(loaded.chunk_vectors) @ vector))[:5]
    assert rows[0] == exact[0] and len(set(rows) & set(exact)) >= 4
    assert loaded.chunk_key[int(rows[0])].endswith("russia-warns-kosovo.txt")
    kept = loaded.commit(remove=[bell.doc.path])  # a tombstone in the graph's segment
    vector = embedder.encode(["Where was the chapel bell of Edda cast?"])[0]
    rows, _ = kept.dense(vector, len(kept.chunks))
    assert sorted(rows.tolist()) == list(range(len(kept.chunks)))  # every live row, no other
    assert bell.doc.path not in {kept.chunk_key[int(r)] for r in rows}


def test_a_copy_of_an_indexed_file_takes_its_vectors_without_the_model(
        bot, tmp_path, settings, embedder, monkeypatch):
    """A file with the same bytes as one the index holds (the same PDF in two
    folders), or as another file of the same add, is indexed from that
    file's sentences, chunks and vectors: the model reads it once, and the
    copy answers under its own name."""
    from qa import indexing

    original = tmp_path / "mill.txt"
    original.write_text(FILES["mill.txt"], encoding="utf-8")
    bot.add([original])
    embedded: list[str] = []
    real = indexing.embed

    def embed(docs, *args, **kwargs):
        embedded.extend(d.source for d in docs)
        return real(docs, *args, **kwargs)

    monkeypatch.setattr(indexing, "embed", embed)
    (tmp_path / "copies").mkdir()
    copy = tmp_path / "copies" / "mill-copy.txt"
    copy.write_bytes(original.read_bytes())
    for name in ("ferry.txt", "ferry-copy.txt"):  # twins in one add: embedded once
        (tmp_path / "copies" / name).write_text(FILES["ferry.txt"], encoding="utf-8")
    report = bot.add([tmp_path / "copies"])
    assert len(embedded) == 1 and embedded[0].startswith("ferry") and report.added == 3
    assert "twice a day" in bot.ask("How often does the Nordby ferry sail?",
                                    sources=["ferry.txt"]).text
    again = Assistant.load(bot.index_dir, settings, embedder)
    answer = again.ask("Who restored the Velde tide mill?", sources=["mill-copy.txt"])
    assert "Korsby" in answer.text and answer.sources[0].source == "mill-copy.txt"
    rows = [r for r, key in enumerate(again.store.chunk_key) if key.endswith("mill.txt")]
    copied = [r for r, key in enumerate(again.store.chunk_key) if key.endswith("mill-copy.txt")]
    assert np.array_equal(again.store.chunk_vectors[rows], again.store.chunk_vectors[copied])


def test_exact_dense_search_returns_the_best_rows_in_order(bot, embedder):
    """Below the HNSW threshold dense search is exact over the store's own
    vectors: the best `n` rows by inner product, best first."""
    vector = embedder.encode(["Who warned of a humanitarian catastrophe?"])[0]
    scores = np.array(bot.store.chunk_vectors) @ vector
    rows, found = bot.store.dense(vector, 2)
    assert rows.tolist() == np.argsort(-scores)[:2].tolist()
    assert np.allclose(found, np.sort(scores)[::-1][:2], atol=1e-5)


def test_commits_merge_small_segments_only():
    """Issue 39: a commit's merge takes the smallest half of the small
    segments once there are more than MAX_SEGMENTS of them; a large segment
    (LARGE chunks or more: its own graph) is merged only by `optimize`, so
    adding a file never waits for one to be rewritten."""
    from qa.store.faiss import LARGE, MAX_SEGMENTS, Segment, tiered
    from qa.store.hybrid import Postings

    def segment(name: str, chunks: int) -> Segment:
        return Segment(name, [name], [chunks], Postings.of([["word"]] * chunks))

    def names(segments: list[Segment]) -> list[str]:
        return [s.name for s in segments]

    large = [segment(f"large-{i}", LARGE) for i in range(MAX_SEGMENTS + 3)]
    one = large + [segment("small", 1)]
    assert tiered(one) is one  # no merge
    small = [segment(f"small-{i}", i + 1) for i in range(MAX_SEGMENTS + 1)]
    merged = tiered(large + small)
    assert names(merged[:len(large)]) == names(large)  # untouched
    assert names(merged[len(large):-1]) == names(small[len(small) // 2:])
    assert merged[-1].name == ""  # the new one, unsaved
    assert sum(merged[-1].counts) == sum(range(1, len(small) // 2 + 1))
    assert len(tiered(large + small, everything=True)) == 1


def test_a_segment_with_its_postings_in_one_npz_file_still_loads(bot, settings, embedder):
    """Segments written before postings were mapped keep them in one
    postings.npz: such an index still opens and searches by BM25."""
    from qa.store.hybrid import Lexical, Postings

    for segment in bot.index_dir.glob("seg-*"):
        arrays = {n: np.load(segment / f"postings-{n}.npy") for n in Postings.FIELDS}
        np.savez(segment / "postings.npz", **arrays)
        for name in Postings.FIELDS:
            (segment / f"postings-{name}.npy").unlink()
    again = Assistant.load(bot.index_dir, settings, embedder)
    assert "Botsan-Kharchenko" in again.ask("Who warned of a humanitarian catastrophe?").text
    assert Lexical(again.store).df("kosovo") > 0


def test_name_terms_are_worked_out_once_per_snapshot(bot, tmp_path, monkeypatch):
    """Issue 39: every question rebuilt the name terms of every document
    (naming's cache was keyed on `files()`, a new copy each call): 29 ms a
    question over 674 files, about 0.9 s over 20,000. Now once per snapshot."""
    from qa import naming

    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    bot.add([tmp_path / name for name in FILES])
    built = []
    real = naming._Names.__init__
    monkeypatch.setattr(naming._Names, "__init__",
                        lambda self, files: (built.append(1), real(self, files))[1])
    for question in ("Who restored the Velde tide mill?", "Where was the bell cast?",
                     "How often does the Nordby ferry sail?"):
        bot.ask(question)
    assert len(built) == 1
