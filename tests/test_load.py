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

# (question, text the answer must contain, whether it is a follow-up). A
# follow-up carries this client's own history; "Why?" alone is not answerable
# (tests/test_app.py checks that), so a lost or mixed-up history shows.
SCRIPT = [
    ("Who has administered Kosovo since 1999?", "United Nations", False),
    ("Why?", "halt killings", True),
    ("Who is Russia's Kosovo negotiator?", "Botsan-Kharchenko", False),
    ("How many people live in Kosovo?", "2 million", False),
    ("Who is Serbia's main big power ally?", "Russia", False),
    ("What is the capital of France?", "", False),
]


def run_client(url: str, count: int, latencies: list[float], lock: threading.Lock) -> list[str]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    problems: list[str] = []
    history: list[dict[str, str]] = []
    for turn in range(count):
        question, expected, follow_up = SCRIPT[turn % len(SCRIPT)]
        start = time.perf_counter()
        reply = client.predict(question, history if follow_up else [], api_name="/ask")
        with lock:
            latencies.append(1000 * (time.perf_counter() - start))
        ok = expected in reply["answer"] and reply["found"] if expected else not reply["found"]
        if not ok:
            problems.append(f"{question!r} -> {reply['answer'][:120]!r}")
        history = [{"role": "user", "content": question},
                   {"role": "assistant", "content": reply["answer"]}]
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


def test_many_clients_through_chat_completions(bundled_index, tmp_path):
    """Each client runs its own conversation through /v1/chat/completions; a
    follow-up only answers right with that client's own history."""
    import shutil

    import httpx
    from test_api import serve

    shutil.copytree(bundled_index, tmp_path / "index")

    def client(url: str, number: int, latencies: list[float], lock: threading.Lock) -> list[str]:
        problems: list[str] = []
        history: list[dict[str, str]] = []
        with httpx.Client(base_url=url, timeout=120) as http:
            for turn in range(QUESTIONS):
                # even offsets: a follow-up always comes right after its own lead question
                question, expected, follow_up = SCRIPT[(turn + 2 * number) % len(SCRIPT)]
                messages = [*(history if follow_up else []),
                            {"role": "user", "content": question}]
                start = time.perf_counter()
                reply = http.post("/v1/chat/completions", json={"model": "qa",
                                                                "messages": messages})
                with lock:
                    latencies.append(1000 * (time.perf_counter() - start))
                body = reply.json()
                text = body["choices"][0]["message"]["content"]
                found = body["qa_answer"]["found"]
                if reply.status_code != 200 or (expected not in text if expected else found):
                    problems.append(f"client {number}: {question!r} -> {text[:100]!r}")
                history = [{"role": "user", "content": question},
                           {"role": "assistant", "content": text}]
        return problems

    with serve(tmp_path / "index", tmp_path) as url:
        latencies: list[float] = []
        lock = threading.Lock()
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(client, url, n, latencies, lock) for n in range(CLIENTS)]
            problems = [p for f in futures for p in f.result(timeout=900)]
    report(f"/v1/chat/completions, {CLIENTS} clients x {QUESTIONS} questions", latencies)
    assert problems == [] and len(latencies) == CLIENTS * QUESTIONS
