"""`qa eval` over several sets in one run, each on a fresh index, as one table.

    python benchmarks/evals.py tests/data/russia-warns-kosovo.dev.jsonl \
        PATH/squad_v2_dev_sample/small.json PATH/xquad_en/xquad.en.json [--record NAME]

A JSON-lines set (the dev set) is asked of a fresh index of the bundled
article; a SQuAD-format set indexes its own articles. Settings come from the
environment as for `qa` (QA_ANSWER_MODEL=1 for the answer model, QA_MODEL,
QA_LLM ...). With --record NAME the table is saved for the benchmark page
(benchmarks/page.py).
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
from qa.evaluation import evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("--llm", help="answer with a chat model (e.g. smollm2)")
    parser.add_argument("--record", metavar="NAME", help="save the table as results/NAME.json")
    args = parser.parse_args()
    table = Table(args.record or "evals", [
        "set", "questions", "answer accuracy", "abstention accuracy", "overall", "hit@8",
        "SQuAD EM / F1", "short-answer EM (of typed)", "p50 ms"])
    for path in args.sets:
        with tempfile.TemporaryDirectory(prefix="qa-evals-") as scratch:
            index = Path(scratch) / "index"
            if path.suffix == ".jsonl":
                Assistant.from_paths([BUNDLED], index)
            s = evaluate(path, index, llm=args.llm).summary()
        table.add(path.name, s["questions"], s["answer_accuracy"],
                  "n/a" if s["abstention_accuracy"] is None else s["abstention_accuracy"],
                  s["overall_accuracy"], s["hit@8"], f"{s['squad_em']:.1f} / {s['squad_f1']:.1f}",
                  "n/a" if s["span_em"] is None else f"{s['span_em']:.3f} of {s['span_questions']}",
                  s.get("first_token_p50_ms") or s["latency_p50_ms"])
    if args.record:
        print(f"recorded {table.save()}")


if __name__ == "__main__":
    main()
