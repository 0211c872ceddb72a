"""Abstention where it is right and only there: XQuAD's questions over an index
of the other half of its articles (nothing there answers them), and over an
index of their own half (everything answerable).

    python benchmarks/abstention.py PATH/xquad_en/xquad.en.json

Prints, for both halves in turn: the share of questions about the other
documents that get "not in the documents" (should be near 1), and over their
own articles the answer accuracy and the share of answerable questions lost
to abstention (answered right with no threshold, abstained with it). XQuAD is
held out: measure on it, never tune to it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import Assistant  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.evaluation import contains_gold, load_eval, write_documents  # noqa: E402


def halves(path: Path) -> tuple[dict, dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    even = {"data": data["data"][0::2]}
    odd = {"data": data["data"][1::2]}
    return even, odd


def measure(index_half: dict, asked_half: dict, own: bool, scratch: Path, tag: str) -> dict:
    folder = scratch / tag
    folder.mkdir()
    (folder / "set.json").write_text(json.dumps(index_half), encoding="utf-8")
    (folder / "asked.json").write_text(json.dumps(asked_half), encoding="utf-8")
    docs = write_documents(load_eval(folder / "set.json").documents, folder / "docs")
    bot = Assistant.from_paths([docs], folder / "index", Settings.from_env(), progress=False)
    loose = Assistant.load(folder / "index", Settings.from_env(min_score=0.0))
    items = load_eval(folder / "asked.json").items
    abstained = right = lost = 0
    for item in items:
        answer = bot.ask(item.question)
        abstained += not answer.found
        if own:
            right += answer.found and contains_gold(answer.text, item.answers)
            if not answer.found:
                other = loose.ask(item.question)
                lost += other.found and contains_gold(other.text, item.answers)
    n = len(items)
    return {"questions": n, "abstained": abstained / n,
            **({"answer_accuracy": right / n, "lost_to_abstention": lost / n} if own else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xquad", type=Path, help="XQuAD (English) in SQuAD format")
    args = parser.parse_args()
    even, odd = halves(args.xquad)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, index_half, other_half in (("even", even, odd), ("odd", odd, even)):
            other = measure(index_half, other_half, False, Path(scratch), f"{name}-other")
            own = measure(index_half, index_half, True, Path(scratch), f"{name}-own")
            rows.append((name, other, own))
    print("| index | other half's questions abstained | own questions | answer accuracy "
          "| lost to abstention |\n|---|---|---|---|---|")
    for name, other, own in rows:
        print(f"| {name} articles | {other['abstained']:.3f} of {other['questions']} "
              f"| {own['questions']} | {own['answer_accuracy']:.3f} "
              f"| {own['lost_to_abstention']:.3f} |")
    total = sum(o["questions"] for _, o, _ in rows)
    print(f"all: other-document abstention "
          f"{sum(o['abstained'] * o['questions'] for _, o, _ in rows) / total:.3f}; "
          f"lost to abstention "
          f"{sum(w['lost_to_abstention'] * w['questions'] for *_, w in rows) / total:.3f}")


if __name__ == "__main__":
    main()
