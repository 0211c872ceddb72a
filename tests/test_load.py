"""Many users at once against a running app.py, on 127.0.0.1 only.

CI runs 4 clients x 6 questions. The full run (20 x 25) is:
    QA_LOAD_CLIENTS=20 QA_LOAD_QUESTIONS=25 python -m pytest tests/test_load.py -s
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from test_browser import server  # noqa: F401  (the app.py fixture)

pytestmark = pytest.mark.slow

CLIENTS = int(os.environ.get("QA_LOAD_CLIENTS", "4"))
QUESTIONS = int(os.environ.get("QA_LOAD_QUESTIONS", "6"))

# (question, text the answer must contain); odd turns are follow-ups that need
# this client's own history.
SCRIPT = [
    ("Who is Russia's Kosovo negotiator?", "Botsan-Kharchenko"),
    ("Where did he say refugees would go?", "northern Kosovo"),
    ("Who has administered Kosovo since 1999?", "United Nations"),
    ("How many people live in Kosovo?", "2 million"),
    ("Who is Serbia's main big power ally?", "Russia"),
    ("What is the capital of France?", "Not in the documents"),
]


def run_client(url: str, count: int, latencies: list[float], lock: threading.Lock) -> list[str]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    problems = []
    for turn in range(count):
        question, expected = SCRIPT[turn % len(SCRIPT)]
        start = time.perf_counter()
        reply = client.predict(question, api_name="/chat")
        with lock:
            latencies.append(1000 * (time.perf_counter() - start))
        text = reply[0] if isinstance(reply, (list, tuple)) else reply
        text = text.get("content", text) if isinstance(text, dict) else text
        if expected not in str(text):
            problems.append(f"{question!r} -> {str(text)[:120]!r}")
    return problems


def load(url: str, extra=None) -> tuple[list[str], list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        futures = [pool.submit(run_client, url, QUESTIONS, latencies, lock)
                   for _ in range(CLIENTS)]
        side = pool.submit(extra) if extra else None
        problems = [p for f in futures for p in f.result(timeout=900)]
        if side:
            side.result(timeout=900)
    return problems, latencies


def report(name: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    print(f"\n{name}: {len(ordered)} answers, p50 {statistics.median(ordered):.0f} ms, "
          f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms")


def test_many_clients_get_correct_answers(server):  # noqa: F811
    url, _ = server
    problems, latencies = load(url)
    report(f"{CLIENTS} clients x {QUESTIONS} questions", latencies)
    assert problems == [] and len(latencies) == CLIENTS * QUESTIONS


def test_answers_stay_whole_during_an_upload(server):  # noqa: F811
    from gradio_client import Client, handle_file

    url, workdir = server
    note = workdir / "harbour.txt"
    note.write_text("The harbour master of Kelby is Boris Petrov. " * 3)

    def upload() -> None:
        status = Client(url, verbose=False).predict([handle_file(str(note))], api_name="/upload")
        assert "Indexed 1" in status[0]

    problems, latencies = load(url, upload)
    report("during an upload", latencies)
    assert problems == []
    answer = Client(url, verbose=False).predict("Who is the harbour master of Kelby?",
                                                api_name="/ask")
    assert "Boris Petrov" in answer["answer"]
