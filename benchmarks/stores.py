"""FAISS against Milvus Lite on one SQuAD-format set, in one run.

    python benchmarks/stores.py PATH/xquad_en/xquad.en.json [--articles N] [--smoke]

For each store: indexing throughput (characters/s, embedding included, the
model already loaded), answer accuracy and latency over every question (the
first ask: Milvus reads each hit's sentences and term statistics), and warm
ask p50/p95 (the same questions again, pass after pass until the median
settles: Milvus Lite compacts in the background after indexing). Both stores
share one embedder, so the differences are the stores'. Milvus Lite runs from a temporary .db file.
--smoke: 2 articles, seconds, no timing claims.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(store: str, folder: Path, docs: Path, chars: int, eval_set, embedder) -> dict:
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.evaluation import run

    settings = Settings.from_env(store=store)
    bot = Assistant.open_or_create(folder / "index", settings, embedder)
    start = time.perf_counter()
    bot.add([docs], progress=False)
    seconds = time.perf_counter() - start
    report = run(eval_set, bot)
    # Warm: the same questions again, pass after pass until the median settles
    # (within 10% of the pass before; at most 4): Milvus Lite compacts and
    # indexes freshly flushed segments in the background, in this process,
    # for a while after indexing.
    previous = float("inf")
    for _ in range(4):
        warm, tops = [], []
        for item in eval_set.items:
            began = time.perf_counter()
            answer = bot.ask(item.question)
            warm.append(1000 * (time.perf_counter() - began))
            source = answer.sources[0] if answer.found else None
            tops.append(source and (Path(source.path).name, source.start, source.end))
        median = statistics.median(warm)
        if median > 0.9 * previous:
            break
        previous = median
    warm.sort()
    return {
        "store": store.split(":")[0] + ("-lite" if store.endswith(".db") else ""),
        "chars_per_s": chars / seconds,
        "index_s": seconds,
        "accuracy": report.answer_correct / max(1, report.answerable),
        "first_p50": statistics.median(report.latencies_ms),
        "warm_p50": statistics.median(warm),
        "warm_p95": warm[min(len(warm) - 1, round(0.95 * (len(warm) - 1)))],
        "tops": tops,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("--articles", type=int, default=0, help="first N articles (0: all)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()

    from qa.config import Settings
    from qa.embeddings import make_embedder
    from qa.evaluation import EvalSet, load_eval, write_documents

    data = load_eval(args.data)
    articles = 2 if args.smoke else args.articles or len(data.documents)
    titles = list(data.documents)[:articles]
    documents = {t: data.documents[t] for t in titles}
    items = [i for i in data.items if i.answers and any(a in documents[t] for a in i.answers[:1]
                                                       for t in titles)]
    eval_set = EvalSet(items[:20] if args.smoke else items, documents)
    settings = Settings.from_env()
    embedder = make_embedder(settings.model, settings.backend, settings.batch_size)
    embedder.warm_up()
    rows = []
    with tempfile.TemporaryDirectory(prefix="qa-stores-") as scratch:
        folder = Path(scratch)
        docs = write_documents(documents, folder / "docs")
        chars = sum(len(t) for t in documents.values())
        for name, store in (("faiss", "faiss"), ("milvus", f"milvus://{folder}/milvus.db")):
            rows.append(measure(store, folder / name, docs, chars, eval_set, embedder))
    print(f"{len(titles)} articles, {len(eval_set.items)} questions")
    print("| store | index chars/s | answer acc | first ask p50 ms | warm ask p50 ms | "
          "warm ask p95 ms |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['store']} | {r['chars_per_s']:,.0f} | {r['accuracy']:.3f} | "
              f"{r['first_p50']:.2f} | {r['warm_p50']:.2f} | {r['warm_p95']:.2f} |")
    base, other = rows
    same = sum(a == b for a, b in zip(base["tops"], other["tops"]))
    print(f"same top sentence: {same}/{len(base['tops'])} ({same / len(base['tops']):.3f})")
    print(f"milvus/faiss: accuracy {other['accuracy'] - base['accuracy']:+.3f}, "
          f"warm ask p50 {other['warm_p50'] / base['warm_p50']:.2f}x, "
          f"indexing {other['chars_per_s'] / base['chars_per_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
