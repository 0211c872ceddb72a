"""Killed mid-work, or two writers at once: the index stays loadable and consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from qa import Assistant

# The child indexes DOCS into INDEX; at the named point it writes a marker and
# sleeps, so the test can SIGKILL it exactly there.
CHILD = textwrap.dedent("""
    import sys, time, pathlib
    import numpy as np
    import qa.store, qa.embeddings
    from qa import Assistant
    docs, index, point, marker = sys.argv[1:5]

    def stop_here():
        pathlib.Path(marker).write_text("ready")
        time.sleep(600)

    if point == "before-write":
        real = qa.store.Store.save
        qa.store.Store.save = lambda self: (stop_here(), real(self))
    elif point == "mid-embedding":
        real_encode = qa.embeddings.OnnxEmbedder.encode_spans
        def encode(self, texts, spans):
            half = real_encode(self, texts[: len(texts) // 2], spans[: len(texts) // 2])
            stop_here()
        qa.embeddings.OnnxEmbedder.encode_spans = encode
    elif point == "mid-save":
        real_save = np.save
        def save(*args, **kwargs):
            real_save(*args, **kwargs)
            stop_here()
        np.save = save
    bot = Assistant.open_or_create(index)
    report = bot.add([docs])
    print(report.added, report.updated)
""")


@pytest.mark.parametrize("point", ["before-write", "mid-embedding", "mid-save"])
def test_sigkill_leaves_previous_index(bot, tmp_path, settings, embedder, point):
    before = bot.ask("How many people live in Kosovo?").text
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(20):
        (docs / f"n{i}.txt").write_text(f"Shelf {i} stores {i * 3} jars of honey.")
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(docs), str(bot.index_dir), point,
                              str(marker)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not marker.exists():
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "child never reached " + point
        time.sleep(0.1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    again = Assistant.load(bot.index_dir, settings, embedder)
    assert [d["source"] for d in again.documents()] == ["russia-warns-kosovo.txt"]
    assert again.ask("How many people live in Kosovo?").text == before
    report = again.add([docs])  # a rerun completes
    assert report.added == 20 and "15" in again.ask("How many jars does shelf 5 store?").text
    assert len(list(bot.index_dir.glob("seg-*"))) == 2  # the article's and the new files'
    assert not list(bot.index_dir.glob(".seg-*"))  # the killed write's debris is gone


def test_two_writers_wait_for_each_other(bot, tmp_path, settings, embedder):
    script = ("import sys; from qa import Assistant; "
              "b = Assistant.open_or_create(sys.argv[1]); print(b.add([sys.argv[2]]).added)")
    files = []
    for name, text in [("a.txt", "Anna grows tomatoes."), ("b.txt", "Ben repairs bicycles.")]:
        path = tmp_path / name
        path.write_text(text)
        files.append(path)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(bot.index_dir), str(f)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for f in files]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1000:] for o in outs]
    final = Assistant.load(bot.index_dir, settings, embedder)
    assert sorted(d["source"] for d in final.documents()) == [
        "a.txt", "b.txt", "russia-warns-kosovo.txt"]
    assert "bicycles" in final.ask("What does Ben repair?").text
