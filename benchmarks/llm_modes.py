"""A chat model's answers on an eval set, question by question: what it said,
what the documents support, and whether qa kept it or fell back.

    python benchmarks/llm_modes.py tests/data/russia-warns-kosovo.dev.jsonl --llm smollm2

For each question: the mode ("generated" or "fallback"), whether the model's
supported claims hold a gold answer, and whether the answer given is right.
"Right answers replaced" counts the questions where the model's supported
claims held the answer and qa fell back to a wrong extractive answer (or to
"not in the documents"); the issue's target is none. Settings come from the
environment as for `qa` (QA_ANSWER_MODEL=1 ...).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from results import Table  # noqa: E402

from qa.assistant import BUNDLED, Assistant  # noqa: E402
from qa.evaluation import contains_gold, load_eval  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", type=Path, help="a JSON-lines eval set over the bundled article")
    parser.add_argument("--llm", default="smollm2", help="the chat model (default: smollm2)")
    parser.add_argument("--record", metavar="NAME", help="save the table as results/NAME.json")
    args = parser.parse_args()
    table = Table(args.record or "llm-modes", [
        "question", "gold", "mode", "model's supported claims", "claims hold the gold",
        "answer given", "right"])
    replaced = kept_right = 0
    with tempfile.TemporaryDirectory(prefix="qa-modes-") as scratch:
        bot = Assistant.from_paths([BUNDLED], Path(scratch) / "index", llm=args.llm)
        for item in load_eval(args.set).items:
            answer = None
            for piece in bot.stream(item.question, history=item.history or None):
                if not isinstance(piece, str):
                    answer = piece
            assert answer is not None
            said = " ".join(c.text for c in answer.claims if c.supported)
            holds = bool(item.answers) and contains_gold(said, item.answers, 10**9)
            right = (answer.found and contains_gold(answer.text, item.answers)) \
                if item.answers else not answer.found
            replaced += holds and answer.mode == "fallback" and not right
            kept_right += holds and answer.mode == "generated"
            table.add(item.question, "; ".join(item.answers[:2]) or "(none)", answer.mode,
                      said[:160] or "–", "yes" if holds else "no",
                      (answer.text if answer.found else "not in the documents")[:160],
                      "yes" if right else "no")
    table.notes.append(f"Supported claims holding the gold: kept {kept_right}, replaced by a "
                       f"wrong fallback {replaced}.")
    print(f"\n{table.notes[-1]}")
    if args.record:
        print(f"recorded {table.save()}")


if __name__ == "__main__":
    main()
