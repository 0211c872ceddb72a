"""Questions in one language over documents in another: XQuAD's parallel sets.

    QA_MODEL=multilingual python benchmarks/cross_lingual.py \\
        PATH/xquad_en/xquad.en.json PATH/xquad/xquad.de.json

Writes a SQuAD-format set whose articles and gold answers come from the first
file and whose questions come from the second (matched by question id), then
runs `qa eval` on it. XQuAD is held out: measure on it, never tune to it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from qa.evaluation import evaluate


def merge(documents: dict, questions: dict) -> dict:
    """The articles and answers of `documents`, asked with `questions`' wording."""
    asked = {qa["id"]: qa["question"] for article in questions["data"]
             for paragraph in article["paragraphs"] for qa in paragraph["qas"]}
    merged = json.loads(json.dumps(documents))
    for article in merged["data"]:
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = [{**qa, "question": asked[qa["id"]]}
                                for qa in paragraph["qas"] if qa["id"] in asked]
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("documents", help="SQuAD-format file giving the articles and answers")
    parser.add_argument("questions", help="the parallel file giving the questions")
    args = parser.parse_args()
    merged = merge(json.loads(Path(args.documents).read_text(encoding="utf-8")),
                   json.loads(Path(args.questions).read_text(encoding="utf-8")))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "merged.json"
        path.write_text(json.dumps(merged, ensure_ascii=False), encoding="utf-8")
        summary = evaluate(path, Path(scratch) / "index").summary()
    for key in ("questions", "answer_accuracy", "hit@8", "span_em", "latency_p50_ms"):
        print(f"{key:<16} {summary.get(key)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
