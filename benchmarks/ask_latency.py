"""Warm `ask` latency on the bundled article vs a bare dense search, same run.

    python benchmarks/ask_latency.py [--rounds 5]

The bare search (query embedding + FAISS top-4, no answer) is what a plain
LangChain FAISS pipeline does per question; the ratio is the figure to quote.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import Table  # noqa: E402

from qa.assistant import Assistant  # noqa: E402

QUESTIONS = [json.loads(line)["question"] for line in
             (Path(__file__).parent.parent / "tests/data/russia-warns-kosovo.dev.jsonl")
             .read_text().splitlines() if line.strip()]


def timed(fn, question: str) -> float:
    start = time.perf_counter()
    fn(question)
    return 1000 * (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--record", metavar="NAME", help="save the table as results/NAME.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bot = Assistant.bundled(Path(scratch) / "index")
        store = bot.store

        def bare(question: str) -> None:
            store.dense(bot.embedder.encode([question])[0], 4)

        for q in QUESTIONS:  # warm both paths
            bot.ask(q)
            bare(q)
        rows = []
        for _ in range(args.rounds):
            ask = sorted(timed(bot.ask, q) for q in QUESTIONS * 5)
            base = sorted(timed(bare, q) for q in QUESTIONS * 5)
            rows.append((statistics.median(ask), ask[int(0.95 * len(ask))],
                         statistics.median(base)))
        p50 = statistics.median(r[0] for r in rows)
        p95 = statistics.median(r[1] for r in rows)
        b50 = statistics.median(r[2] for r in rows)
        table = Table(args.record or "latency", ["answer model", "warm ask p50 ms",
                                                  "warm ask p95 ms", "bare dense search p50 ms",
                                                  "ratio"])
        table.add("on" if bot.settings.answer_model else "off", round(p50, 2), round(p95, 2),
                  round(b50, 2), round(p50 / b50, 2))
        table.notes.append(f"Median of {args.rounds} rounds of the dev set's questions, 5 "
                           f"times each, on the bundled article's index.")
        if args.record:
            print(f"recorded {table.save()}")


if __name__ == "__main__":
    main()
