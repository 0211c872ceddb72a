"""The Milvus store against a real Milvus: Milvus Lite, from a .db file and as a server.

The server is Milvus Lite's own (`python -m milvus_lite server`), reached by
`milvus://127.0.0.1:PORT`: the code path a Milvus standalone or cluster takes.
With QA_TEST_MILVUS_URI=http://HOST:19530 every test that needs no restart
runs against that server instead (a Milvus 2.5 or later that you provide;
docs/milvus.md).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DEV_SET

from qa.assistant import BUNDLED, Assistant
from qa.errors import IndexMismatchError, IndexNotFoundError, QAError
from qa.store import collection_name, milvus_uri
from qa.store.milvus import MilvusStore, StoreError

QA = [sys.executable, "-m", "qa.cli"]
ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}

# A second corpus beside the article: short notes on invented places, with
# questions whose answers sit in different documents and sentences.
TOWNS = {
    "harlow.txt": "Harlow is a river town in the north. Its stone bridge was built in 1842 by "
                  "the engineer Maria Velde. The town library opened in 1901 and holds twelve "
                  "thousand maps. Every spring Harlow holds a rowing race on the river. The "
                  "race was first rowed in 1923. The old bridge can't carry lorries, "
                  "so they cross at the \"Back\\Ford\" weir.\n\nThe mayor of Harlow is "
                  "Tomas Brink. He was "
                  "elected in 2019 after promising a new tram line. The tram line opened in 2022.",
    "edda.txt": "Edda is a mountain village known for its cheese. The cheese is aged in caves "
                "for nine months. A cable car links Edda with the valley; it was opened in "
                "1967. The village school has forty pupils.\n\nEdda's chapel holds a bell cast "
                "in Venice. The bell weighs two tonnes. Pilgrims climb to the chapel each August.",
    "port-lund.txt": "Port Lund is the largest harbour on the coast. Its lighthouse was lit in "
                     "1855 and still runs on the original lens. The harbour master is Ada "
                     "Quist. Fishing boats land herring and cod there every morning.\n\nA ferry "
                     "sails from Port Lund to the islands twice a day. The crossing takes three "
                     "hours. In winter storms the ferry stays in port.",
}
TOWN_QUESTIONS = [
    "Who built the stone bridge in Harlow?", "When did the Harlow library open?",
    "How many maps does the library hold?", "When was the rowing race first rowed?",
    "Who is the mayor of Harlow?", "When did the tram line open?",
    "How long is the cheese aged?", "When was the cable car opened?",
    "How many pupils does the village school have?", "Where was the chapel bell cast?",
    "How much does the bell weigh?", "When do pilgrims climb to the chapel?",
    "When was the lighthouse lit?", "Who is the harbour master of Port Lund?",
    "What fish do the boats land?", "How long does the ferry crossing take?",
    "What happens to the ferry in winter storms?", "Who won the election in Edda?",
    "What is the population of Port Lund?", "What can't the old bridge carry?",
    'Where do lorries cross, at the "Back\\Ford"?',
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiteServer:
    """Milvus Lite's gRPC server in a subprocess, restartable on its port and data."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = data, _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def spec(self) -> str:
        return f"milvus://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("Milvus Lite server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None


REAL = os.environ.get("QA_TEST_MILVUS_URI", "")  # a Milvus server a user provides


def _spec(uri: str) -> str:
    return "milvus+" + uri if uri.startswith("https://") else \
        "milvus://" + uri.removeprefix("http://")


class RealServer:
    """The server QA_TEST_MILVUS_URI names: used as it is, never restarted."""

    spec = _spec(REAL)


@pytest.fixture()
def server(tmp_path):
    if REAL:
        yield RealServer()
        return
    lite = LiteServer(tmp_path / "milvus-data")
    lite.start()
    yield lite
    lite.stop()


def lite(tmp_path: Path) -> str:
    """Where a test's index goes: a Milvus Lite file, or the server that
    QA_TEST_MILVUS_URI names (each test's collection is named after its own
    temporary folder)."""
    return _spec(REAL) if REAL else f"milvus://{tmp_path}/qa.db"


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def top(answer) -> tuple:
    """What parity compares: whether it answered, and the cited sentence."""
    if not answer.found:
        return (False,)
    s = answer.sources[0]
    return (True, Path(s.path).name, s.start, s.end)


def test_milvus_answers_as_faiss_does(tmp_path, settings, embedder):
    """Dev set on the article, and a second corpus of three documents: the
    same top sentences from both stores (at least 95%; in practice all)."""
    docs = write(tmp_path / "docs", TOWNS)
    shutil.copy(BUNDLED, docs / BUNDLED.name)
    faiss = Assistant.from_paths([docs], tmp_path / "f", settings, embedder)
    milvus = Assistant.from_paths([docs], tmp_path / "m", settings, embedder,
                                  store=lite(tmp_path))
    assert {d["source"] for d in milvus.documents()} == {d["source"] for d in faiss.documents()}
    questions = [json.loads(line)["question"] for line in DEV_SET.read_text().splitlines()
                 if line.strip()] + TOWN_QUESTIONS
    differ = [(q, top(faiss.ask(q)), top(milvus.ask(q))) for q in questions]
    differ = [d for d in differ if d[1] != d[2]]
    assert len(differ) <= 0.05 * len(questions), differ
    # Offsets from Milvus point into the real file, and follow-ups keep their document.
    answer = milvus.ask("Who built the stone bridge in Harlow?")
    source = answer.sources[0]
    assert "Maria Velde" in answer.text
    assert (docs / "harlow.txt").read_text()[source.start:source.end] == source.text
    assert source.context in (docs / "harlow.txt").read_text()
    history = [{"role": "user", "content": "Who built the stone bridge in Harlow?"},
               {"role": "assistant", "content": answer.text}]
    assert top(milvus.ask("When?", history=history)) == top(faiss.ask("When?", history=history))
    only = milvus.ask("When was it opened?", sources=["edda.txt"])
    assert only.sources[0].source == "edda.txt"
    assert [s.source for s in milvus.retrieve("cheese caves", k=2)][0] == "edda.txt"


def test_reindexing_is_incremental_and_removal_sticks(tmp_path, settings, counting):
    docs = write(tmp_path / "docs", TOWNS)
    spec = lite(tmp_path)
    bot = Assistant.from_paths([docs], tmp_path / "ix", settings, counting, store=spec)
    assert bot.last_report.added == 3
    embedded = counting.texts
    report = Assistant.from_paths([docs], tmp_path / "ix", settings, counting,
                                  store=spec).last_report
    assert (report.added, report.updated, report.unchanged) == (0, 0, 3)
    assert counting.texts == embedded  # nothing embedded again
    (docs / "edda.txt").write_text("Edda's cheese is now aged for fourteen months in steel rooms.")
    again = Assistant.from_paths([docs], tmp_path / "ix", settings, counting, store=spec)
    assert again.last_report.updated == 1
    assert "fourteen" in again.ask("How long is the cheese aged?").text
    assert "nine months" not in again.ask("How long is the cheese aged in caves?").text
    (docs / "harlow.txt").unlink()
    assert Assistant.from_paths([docs], tmp_path / "ix", settings, counting,
                                store=spec).last_report.removed == 1
    reopened = Assistant.load(tmp_path / "ix", settings, counting, store=spec)
    assert reopened.remove(["port-lund.txt"]).removed == 1
    later = Assistant.load(tmp_path / "ix", settings, counting, store=spec)
    assert [d["source"] for d in later.documents()] == ["edda.txt"]
    assert not later.ask("Who is the harbour master of Port Lund?").found


def test_another_model_is_refused_and_a_rebuild_swaps_in_whole(tmp_path, settings, embedder):
    spec = lite(tmp_path)
    docs = write(tmp_path / "docs", TOWNS)
    Assistant.from_paths([docs], tmp_path / "ix", settings, embedder, store=spec)
    other = settings.with_(chunk_size=300)
    with pytest.raises(IndexMismatchError, match=r"chunk_size=600.*--rebuild --store milvus://"):
        Assistant.load(tmp_path / "ix", other, store=spec)
    with pytest.raises(IndexNotFoundError, match="no collection .* build one with"):
        Assistant.load(tmp_path / "elsewhere", settings, store=spec)
    one = write(tmp_path / "one", {"edda.txt": TOWNS["edda.txt"]})
    rebuilt = Assistant.from_paths([one], tmp_path / "ix", other, embedder, rebuild=True,
                                   store=spec)
    assert [d["source"] for d in rebuilt.documents()] == ["edda.txt"]
    assert Assistant.load(tmp_path / "ix", other, embedder, store=spec).ask(
        "How long is the cheese aged?").found
    # The old generation's collections are gone: five collections, behind five aliases.
    client = rebuilt.store.client
    name = collection_name(tmp_path / "ix")
    assert len([c for c in client.list_collections() if c.startswith(name)]) == 5


def test_a_file_whose_write_was_cut_off_is_not_seen(tmp_path, settings, embedder, monkeypatch):
    """Chunks are written, then the process dies before the documents row:
    questions see nothing of the new file, and the old version of a changed one."""
    spec = lite(tmp_path)
    docs = write(tmp_path / "docs", TOWNS)
    Assistant.from_paths([docs], tmp_path / "ix", settings, embedder, store=spec)
    write(docs, {"new.txt": "The observatory on Mount Kell has a mirror four metres wide.",
                 "edda.txt": "Edda's cheese is now aged for fourteen months in steel rooms."})
    real = MilvusStore._call

    def dies_at_commit(self, method, *args, **kwargs):
        result = real(self, method, *args, **kwargs)
        if method == "upsert" and args[0].endswith("_chunks"):
            raise KeyboardInterrupt  # killed once the chunks are written, whatever comes next
        return result

    monkeypatch.setattr(MilvusStore, "_call", dies_at_commit)
    with pytest.raises(KeyboardInterrupt):
        Assistant.from_paths([docs], tmp_path / "ix", settings, embedder, store=spec)
    monkeypatch.setattr(MilvusStore, "_call", real)
    bot = Assistant.load(tmp_path / "ix", settings, embedder, store=spec)
    assert "new.txt" not in [d["source"] for d in bot.documents()]
    mirror = bot.ask("How wide is the mirror of the observatory on Mount Kell?")
    assert not mirror.found or mirror.sources[0].source != "new.txt"
    assert "nine months" in bot.ask("How long is the cheese aged?").text
    # Indexing again completes both files.
    again = Assistant.from_paths([docs], tmp_path / "ix", settings, embedder, store=spec)
    assert "four metres" in again.ask("How wide is the mirror on Mount Kell?").text
    assert "fourteen" in again.ask("How long is the cheese aged?").text


def test_a_rebuild_from_the_same_folder_keeps_every_file(tmp_path, settings, embedder):
    """The documented fix after a settings change, and a rebuild after editing
    one file: the rebuild reads nothing of the old generation, so every file
    under PATH is in the new one."""
    spec = lite(tmp_path)
    docs = write(tmp_path / "docs", TOWNS)
    Assistant.from_paths([docs], tmp_path / "ix", settings, embedder, store=spec)
    other = settings.with_(chunk_size=300)
    rebuilt = Assistant.from_paths([docs], tmp_path / "ix", other, embedder, rebuild=True,
                                   store=spec)
    assert rebuilt.last_report.added == 3 and rebuilt.last_report.unchanged == 0
    reopened = Assistant.load(tmp_path / "ix", other, embedder, store=spec)  # not refused
    assert sorted(d["source"] for d in reopened.documents()) == sorted(TOWNS)
    (docs / "edda.txt").write_text("Edda's cheese is now aged for fourteen months in steel rooms.")
    again = Assistant.from_paths([docs], tmp_path / "ix", other, embedder, rebuild=True,
                                 store=spec)
    assert sorted(d["source"] for d in again.documents()) == sorted(TOWNS)
    assert again.ask("Who is the harbour master of Port Lund?").sources[0].source == \
        "port-lund.txt"
    assert "fourteen" in again.ask("How long is the cheese aged?").text


def test_a_rebuild_killed_during_the_alias_swap_is_finished_on_open(
        tmp_path, settings, embedder, monkeypatch):
    spec = lite(tmp_path)
    docs = write(tmp_path / "docs", TOWNS)
    Assistant.from_paths([docs], tmp_path / "ix", settings, embedder, store=spec)
    real = MilvusStore._call
    moved = []

    def dies_mid_swap(self, method, *args, **kwargs):
        if method == "alter_alias" and len(moved) == 2:
            raise KeyboardInterrupt  # killed with two of five aliases moved
        result = real(self, method, *args, **kwargs)
        if method == "alter_alias":
            moved.append(args)
        return result

    monkeypatch.setattr(MilvusStore, "_call", dies_mid_swap)
    other = settings.with_(chunk_size=300)
    with pytest.raises(KeyboardInterrupt):
        Assistant.from_paths([docs], tmp_path / "ix", other, embedder, rebuild=True, store=spec)
    monkeypatch.setattr(MilvusStore, "_call", real)
    bot = Assistant.load(tmp_path / "ix", other, embedder, store=spec)
    assert sorted(d["source"] for d in bot.documents()) == sorted(TOWNS)
    assert "Maria Velde" in bot.ask("Who built the stone bridge in Harlow?").text
    name = collection_name(tmp_path / "ix")
    left = [c for c in bot.store.client.list_collections() if c.startswith(name)]
    assert len(left) == 5, left  # the old generation is gone, all of it


def test_two_processes_see_each_others_files(tmp_path, settings, embedder, server):
    docs = write(tmp_path / "docs", {"harlow.txt": TOWNS["harlow.txt"]})
    bot = Assistant.from_paths([docs], tmp_path / "ix", settings, embedder, store=server.spec)
    assert not bot.ask("How long does the ferry crossing take?").found
    more = write(tmp_path / "more", {"port-lund.txt": TOWNS["port-lund.txt"],
                                     "edda.txt": TOWNS["edda.txt"]})
    # Two indexers at once, in two processes, on one collection: nothing is lost.
    runs = [subprocess.Popen([*QA, "index", str(more / name), "--store", server.spec,
                              "-d", str(tmp_path / "ix")], env={**ENV, "PATH": ""},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in ("port-lund.txt", "edda.txt")]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    assert {d["source"] for d in bot.documents()} == {"harlow.txt", "port-lund.txt", "edda.txt"}
    # This process sees them without a restart.
    assert "three hours" in bot.ask("How long does the ferry crossing take?").text
    assert "nine months" in bot.ask("How long is the cheese aged?").text
    # And the other process sees this one's upload.
    write(docs, {"new.txt": "The observatory on Mount Kell has a mirror four metres wide."})
    bot.add([docs / "new.txt"])
    out = subprocess.run([*QA, "ask", "How wide is the mirror on Mount Kell?", "--store",
                          server.spec, "-d", str(tmp_path / "ix")], env={**ENV, "PATH": ""},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "four metres" in out.stdout, out.stderr


@pytest.mark.skipif(bool(REAL), reason="restarts the server; QA_TEST_MILVUS_URI's is not ours")
def test_milvus_lost_mid_question_then_back(tmp_path, settings, embedder, server):
    docs = write(tmp_path / "docs", TOWNS)
    bot = Assistant.from_paths([docs], tmp_path / "ix", settings, embedder, store=server.spec)
    assert bot.ask("Who is the mayor of Harlow?").found
    before = bot.ask("When was the lighthouse lit?")
    assert "1855" in before.text
    from app import create_app  # the chat shows the same message, not a traceback

    respond = create_app(bot, tmp_path / "uploads").qa_handlers["chat"]
    server.stop()
    started = time.monotonic()
    with pytest.raises(QAError, match=f"Milvus at http://127.0.0.1:{server.port} did not "
                                      f"answer.*try again") as lost:
        bot.ask("Who is the harbour master of Port Lund?")
    assert "\n" not in str(lost.value) and time.monotonic() - started < 60
    *_, (message, _) = respond("Who is the harbour master of Port Lund?", [], None, None)
    assert message.startswith("⚠️ Milvus at") and "did not answer" in message
    server.start()
    deadline = time.monotonic() + 60
    while True:  # the client reconnects by itself once Milvus is back
        try:
            assert top(bot.ask("When was the lighthouse lit?")) == top(before)
            break
        except StoreError:
            assert time.monotonic() < deadline
            time.sleep(0.5)


def test_unreachable_or_unusable_stores_give_one_line(tmp_path, settings):
    port = _free_port()
    with pytest.raises(QAError, match=f"cannot reach Milvus at http://127.0.0.1:{port}"):
        Assistant.load(tmp_path / "ix", settings, store=f"milvus://127.0.0.1:{port}")
    out = subprocess.run([*QA, "ask", "Who?", "--store", f"milvus://127.0.0.1:{port}"],
                         env={**ENV, "PATH": ""}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and f"cannot reach Milvus at http://127.0.0.1:{port}" \
        in out.stderr
    for bad, message in (("milvus:///tmp/x.sqlite", "must end in .db"),
                         ("milvus://", "is not a store"), ("chroma", "is not a store")):
        with pytest.raises(QAError, match=message):
            milvus_uri(bad)
    assert milvus_uri("milvus+https://example.org:443") == "https://example.org:443"
    with pytest.raises(QAError, match="QA_COLLECTION"):
        collection_name(tmp_path, "bad-name")


def test_a_lite_file_held_by_another_process_is_named(tmp_path):
    held = tmp_path / "held.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from pymilvus import MilvusClient; "
         f"MilvusClient({str(held)!r}); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        out = subprocess.run([*QA, "list", "--store", f"milvus://{held}"],
                             env={**ENV, "PATH": ""}, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
        assert "another process" in out.stderr and "milvus-lite server" in out.stderr
    finally:
        holder.kill()
        holder.wait()


def test_cli_indexes_and_answers_through_milvus(tmp_path):
    spec = lite(tmp_path)
    env = {**ENV, "PATH": "", "QA_STORE": spec}
    out = subprocess.run([*QA, "index", str(BUNDLED), "-d", str(tmp_path / "ix")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "in collection qa_ix_" in out.stdout, out.stderr
    out = subprocess.run([*QA, "ask", "What did Botsan-Kharchenko warn?", "-d",
                          str(tmp_path / "ix")], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and "humanitarian catastrophe" in out.stdout, out.stderr


def test_health_check_through_a_milvus_store(tmp_path):
    import httpx
    from test_api import serve

    spec = lite(tmp_path)
    docs = write(tmp_path / "docs", TOWNS)
    out = subprocess.run([*QA, "index", str(docs), "-d", str(tmp_path / "ix"), "--store", spec],
                         env={**ENV, "PATH": ""}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    with serve(tmp_path / "ix", tmp_path, "--store", spec) as url:
        health = httpx.get(url + "/healthz", timeout=30)
        assert health.status_code == 200, health.text
        assert health.json()["documents"] == 3 and health.json()["chunks"] >= 3


def test_cli_rebuild_after_a_settings_change_keeps_every_file(tmp_path):
    """The fix the refusal prints, run as printed: it must not loop."""
    spec = lite(tmp_path)
    docs = write(tmp_path / "docs", TOWNS)
    env = {**ENV, "PATH": "", "QA_STORE": spec}
    index = [*QA, "index", str(docs), "-d", str(tmp_path / "ix"), "--json"]
    assert subprocess.run(index, env=env, capture_output=True, timeout=300).returncode == 0
    changed = {**env, "QA_CHUNK_SIZE": "300"}
    refused = subprocess.run([*QA, "list", "-d", str(tmp_path / "ix")], env=changed,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "--rebuild" in refused.stderr
    out = subprocess.run([*index, "--rebuild"], env=changed, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == 3
    listed = subprocess.run([*QA, "list", "-d", str(tmp_path / "ix"), "--json"], env=changed,
                            capture_output=True, text=True, timeout=300)
    assert sorted(d["source"] for d in json.loads(listed.stdout)) == sorted(TOWNS)


def test_milvus_keeps_document_structure_as_faiss_does(tmp_path, settings, embedder):
    """Kinds, section paths and titles live in the index: the heading and the
    question line are never the answer, the row answers with its headers."""
    from test_structure import FAQ_HTML, HELP_MD

    docs = write(tmp_path / "docs", {"clinic.html": FAQ_HTML, "help.md": HELP_MD})
    faiss = Assistant.from_paths([docs], tmp_path / "f", settings, embedder)
    milvus = Assistant.from_paths([docs], tmp_path / "m", settings, embedder,
                                  store=lite(tmp_path))
    counts = {d["source"]: d["sentences"] for d in milvus.documents()}
    assert counts == {d["source"]: d["sentences"] for d in faiss.documents()}
    assert counts["clinic.html"]["question"] == 2 and counts["help.md"]["toc"] >= 1
    for question, expected in [("How do I reset my password?", "orange Reset button"),
                               ("How does the virus spread?", "droplets"),
                               ("Who is the head nurse of Ward 7?",
                                "Ward: Ward 7; Head nurse: Ana Silva.")]:
        answer = milvus.ask(question)
        assert expected in answer.text and top(answer) == top(faiss.ask(question)), answer.text


def test_milvus_answers_whole_document_questions_as_faiss_does(tmp_path, settings, embedder):
    """Issue 28: digests, lists and where questions read whole documents from
    Milvus: the same sentences, values and offsets as the FAISS store gives."""
    from test_overview import BIRDS_TXT, CHIPS_TXT, GPU_MD, PORT_MD

    docs = write(tmp_path / "docs", {"port.md": PORT_MD, "gpus.md": GPU_MD,
                                     "chips.txt": CHIPS_TXT, "birds.txt": BIRDS_TXT})
    faiss = Assistant.from_paths([docs], tmp_path / "f", settings, embedder)
    milvus = Assistant.from_paths([docs], tmp_path / "m", settings, embedder,
                                  store=lite(tmp_path))

    def cited(sources):
        return [(s.source, s.start, s.end, s.text, s.page) for s in sources]

    digest = milvus.digest(["port.md"], sentences=3)
    assert digest.found and cited(digest.sources) == cited(faiss.digest(["port.md"], 3).sources)
    dates = milvus.find("date", ["port.md"])
    assert [i.value for i in dates] == ["1990", "2016", "2019", "2020"]
    assert [cited([i.source]) for i in dates] == \
        [cited([i.source]) for i in faiss.find("date", ["port.md"])]
    places = milvus.ask("Which documents mention GPUs?")
    assert [row["source"] for row in places.items] == ["gpus.md", "chips.txt"]
    assert cited(places.sources) == cited(faiss.ask("Which documents mention GPUs?").sources)


def test_a_milvus_server_older_than_2_5_is_refused_before_anything_is_created(
        tmp_path, settings, embedder):
    """Issue 39 item 4: the standalone server from the `milvus` 2.3.5 wheel
    (no BM25 function) was told it "did not answer … try again", and was left
    with half-created collections. Now: one line naming the version found
    and the one needed, from Python and the command line, and nothing made."""
    from milvus import MilvusServer
    from pymilvus import MilvusClient

    old = MilvusServer()
    old.set_base_dir(str(tmp_path / "milvus-2.3"))
    old.listen_port = _free_port()
    old.start()
    try:
        spec = f"milvus://127.0.0.1:{old.listen_port}"
        want = r"is version 2\.3\.5, but qa needs Milvus 2\.5 or later"
        with pytest.raises(StoreError, match=want):
            Assistant.from_paths([BUNDLED], tmp_path / "ix", settings, embedder, store=spec)
        run = subprocess.run([*QA, "index", str(BUNDLED), "--store", spec, "-d",
                              str(tmp_path / "ix")], capture_output=True, text=True,
                             env={**ENV, "PATH": ""}, timeout=120)
        assert run.returncode != 0 and len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert "2.3.5" in run.stderr and "2.5 or later" in run.stderr
        assert MilvusClient(uri=f"http://127.0.0.1:{old.listen_port}").list_collections() == []
    finally:
        old.stop()
