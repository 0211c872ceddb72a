"""Sentence splitting: speed and bad breaks, nupunkt (ours) against pysbd (before).

    pip install -e ".[bench]"
    python benchmarks/splitting.py PATH/history_of_alexnet PATH/blockchain_solana PATH/xquad.en.json [PATH/xquad.de.json]

A bad break is a sentence that ends in an abbreviation or reference that
never ends a sentence ("Fig.", "et al.", "e.g.", "i.e.", "No.", "Eq.",
"Sec.", "vs.", "cf.") or a sentence that starts in lowercase or with a
reference mark ("[7]") after such a break. Both splitters run inside the same
paragraph rules (qa/chunking.py), so only the splitter differs.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NEVER_ENDS = re.compile(r"(?:\b(?:Fig|Figs|et al|e\.g|i\.e|No|Eq|Sec|vs|cf|Tab|Ref|approx)\.)$",
                        re.IGNORECASE)
# German (and Danish, Polish, ...) write "14." for 14th: a sentence that ends in
# a number of up to three digits and a stop, with more text in its paragraph, is
# most often an ordinal cut off ("am 14." | "März"). Counted apart, since some
# are true ends ("Route 99."): XQuAD de had 44 such breaks, 37 of them ordinals.
NUMBER_END = re.compile(r"(?<![\d.,/-])\b\d{1,3}\.$")
BAD_START = re.compile(r"^(?:[a-z]|\[\d+(?:[,–-]\s*\d+)*\]\s*[a-z.,;)])")


def pysbd_split(text: str) -> list[tuple[int, int]]:
    """The splitter before: pysbd inside the same paragraph rules."""
    import pysbd

    from qa.chunking import _paragraphs

    segmenter = pysbd.Segmenter(language="en", clean=False)
    spans = []
    for start, end in _paragraphs(text):
        block = text[start:end].replace("\n", " ")
        cursor = 0
        for piece in segmenter.segment(block):
            piece = piece.strip()
            found = block.find(piece, cursor) if piece else -1
            if found >= 0:
                spans.append((start + found, start + found + len(piece)))
                cursor = found + len(piece)
    return spans


def nupunkt_split(text: str) -> list[tuple[int, int]]:
    from qa.chunking import split_sentences

    return [(s.start, s.end) for s in split_sentences(text)]


def texts(paths: list[str]) -> dict[str, str]:
    from qa.documents import load_all

    found = {}
    for raw in paths:
        path = Path(raw)
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            found[path.name] = "\n\n".join(p["context"] for a in data["data"]
                                           for p in a["paragraphs"])
            continue
        for pdf in sorted((path / "source_files").glob("*.pdf")):
            docs, _ = load_all(pdf, 10**9)
            found[pdf.name] = "\n\n".join(d.text for d in docs)
    return found


def bad_breaks(text: str, spans: list[tuple[int, int]]) -> int:
    bad = 0
    for (start, end), following in zip(spans, spans[1:]):
        if following[0] - end > 2:  # a paragraph break, not a sentence break
            continue
        ends_wrong = NEVER_ENDS.search(text[start:end]) is not None
        bad += ends_wrong or BAD_START.match(text[following[0]:following[1]]) is not None
    return bad


def number_ends(text: str, spans: list[tuple[int, int]]) -> int:
    return sum(1 for (start, end), following in zip(spans, spans[1:])
               if following[0] - end <= 2 and NUMBER_END.search(text[start:end]))


def timed(split, text: str, repeats: int) -> tuple[float, list[tuple[int, int]]]:
    seconds, spans = [], []
    for turn in range(repeats):
        fresh = f"Run {turn}.\n\n{text}"  # nupunkt memoises; each run gets new text
        start = time.perf_counter()
        spans = split(fresh)
        seconds.append(time.perf_counter() - start)
    shift = len(f"Run {repeats - 1}.\n\n")
    return statistics.median(seconds), [(a - shift, b - shift) for a, b in spans[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--repeats", type=int, default=1,
                        help="median of N runs; nupunkt caches per-word work, so runs after the first are faster")
    args = parser.parse_args()
    print("| text | chars | splitter | sentences | chars/s | bad breaks | breaks after a number and a stop |")
    print("|---|---|---|---|---|---|---|")
    for name, text in texts(args.paths).items():
        for label, split in (("pysbd", pysbd_split), ("nupunkt", nupunkt_split)):
            seconds, spans = timed(split, text, args.repeats)
            print(f"| {name} | {len(text):,} | {label} | {len(spans):,} | "
                  f"{len(text) / seconds:,.0f} | {bad_breaks(text, spans)} | "
                  f"{number_ends(text, spans)} |")


if __name__ == "__main__":
    main()
