"""Fit the answer-score weights and the abstention threshold.

Tuning data: the bundled dev set and the SQuAD 2.0 sample ONLY. XQuAD and the
PDF sets are held out: never pass them here.

    python benchmarks/tune.py PATH/TO/squad_v2_dev_sample/small.json

Prints the accuracy of the current weights, then a coordinate-search fit and
the threshold sweep; copy chosen values into qa/answering.py / qa/config.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from qa.answering.extractive import FEATURES, WEIGHTS, features
from qa.assistant import Assistant
from qa.chunking import terms
from qa.evaluation import contains_gold, evaluate, load_eval, write_documents  # noqa: F401


def collect(bot: Assistant, items, k: int):
    """Per question: candidate features, which candidates hold a gold answer."""
    s = bot.settings
    out = []
    vectors = bot.embedder.encode([it.question for it in items])
    for item, vector in zip(items, vectors):
        store, found, idf = bot.store.search([(vector, terms(item.question))], k,
                                             s.candidates, s.rrf_k)
        rows, matrix = features(item.question, vector, store, found[0], idf)
        texts = [store.document(store.sentence_doc[r]).text[
            store.sentence_spans[r].start:store.sentence_spans[r].end] for r in rows]
        labels = np.array([bool(item.answers) and contains_gold(t, item.answers, 10**9)
                           for t in texts], dtype=bool)
        out.append((matrix, labels, bool(item.answers)))
    return out


def score(data, weights, threshold=-1e9):
    """(answerable accuracy, overall accuracy) with `weights` and thresholds."""
    right_ans = right_all = n_ans = 0
    for matrix, labels, answerable in data:
        if len(matrix) == 0:
            best, top = None, -1e9
        else:
            s = matrix @ weights
            best, top = int(np.argmax(s)), float(s.max())
        found = top >= threshold
        if answerable:
            n_ans += 1
            ok = found and best is not None and labels[best]
            right_ans += ok
            right_all += ok
        else:
            right_all += not found
    return right_ans / max(1, n_ans), right_all / max(1, len(data))


def fit(data, start):
    w = start.copy()
    grid = [-1.0, -0.5, -0.25, 0.0, 0.1, 0.25, 0.4, 0.6, 0.8, 1.0, 1.5]
    best = score(data, w)[0]
    for _ in range(3):
        for j in range(1, len(w)):  # dense weight fixed at 1 as the scale
            for value in grid:
                trial = w.copy()
                trial[j] = value
                acc = score(data, trial)[0]
                if acc > best + 1e-9:
                    best, w = acc, trial
    return w, best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("squad", help="the SQuAD 2.0 sample (tuning data)")
    parser.add_argument("--dev", default="tests/data/russia-warns-kosovo.dev.jsonl")
    parser.add_argument("--index-dir", default=None)
    parser.add_argument("--k", type=int, nargs="+", default=[4])
    args = parser.parse_args()
    squad = load_eval(args.squad)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.index_dir or Path(scratch) / "index")
        docs = write_documents(squad.documents, folder.parent / f"{folder.name}-docs")
        squad_bot = Assistant.from_paths([docs], folder, progress=False)
        dev_bot = Assistant.bundled(Path(scratch) / "dev-index")
        dev = load_eval(args.dev).items
        for k in args.k:
            sq = collect(squad_bot, squad.items, k)
            dv = collect(dev_bot, dev, k)
            print(f"k={k} current {dict(zip(FEATURES, WEIGHTS.tolist()))}")
            print(f"  squad answerable/overall {score(sq, WEIGHTS)}  dev {score(dv, WEIGHTS)}")
            w, acc = fit(sq + dv, WEIGHTS)
            print(f"  fitted {dict(zip(FEATURES, w.round(2).tolist()))} -> {acc:.4f}")
            print(f"  squad {score(sq, w)}  dev {score(dv, w)}")
            for t in np.arange(0.6, 1.6, 0.1):
                a, b = score(sq, w, t), score(dv, w, t)
                print(f"  score>={t:.2f}: squad ans {a[0]:.3f} all {a[1]:.3f} | "
                      f"dev ans {b[0]:.3f} all {b[1]:.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
