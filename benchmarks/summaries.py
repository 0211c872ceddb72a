"""Extractive summaries side by side: qa's digest against LexRank and
TextRank (sumy), scored with ROUGE against each paper's own abstract.

    pip install -e ".[bench]"
    python benchmarks/summaries.py PAPER.pdf... [--sentences 7] [--llm smollm2]

Each paper is indexed by qa; its abstract (the paragraph that starts
"Abstract", up to "Keywords"/"Index Terms") is the reference and is kept out
of what is summarised. All three summarisers get the same candidate
sentences (qa's body sentences of at least overview.MIN_WORDS words, in
order) and give the same number of them. ROUGE-1/2/L F1 with stemming
(rouge-score). The papers are test data: measured, never tuned on.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from results import Table  # noqa: E402

_ABSTRACT = re.compile(r"Abstract\W+(.+?)(?=\s*(?:Keywords|Index Terms|Key words)\b|\n\n)", re.S | re.I)


class _Words:
    """sumy's tokenizer interface without nltk's downloadable data."""

    language = "english"

    @staticmethod
    def to_words(text: str) -> list[str]:
        return re.findall(r"\w+", text)

    @staticmethod
    def to_sentences(text: str) -> list[str]:
        return [text]


def _located(text: str, abstract: str) -> tuple[int, int]:
    """Where the abstract's text lies in the document: from its first six
    words to its last six (any spacing or hyphenation between), or (0, 0)."""
    words = re.findall(r"\w+", abstract)

    def phrase(part: list[str]) -> re.Pattern[str]:
        return re.compile(r"\W{1,8}".join(re.escape(w) for w in part), re.I)

    first = phrase(words[:6]).search(text)
    if not first:
        return 0, 0
    last = None
    for last in phrase(words[-6:]).finditer(text, first.start()):
        break
    return first.start(), last.end() if last else first.end()


def _sumy(kind: str, sentences: list[str], n: int) -> list[str]:
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
    from sumy.nlp.stemmers import Stemmer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    from sumy.utils import get_stop_words

    words = _Words()
    document = ObjectDocumentModel([Paragraph([Sentence(s, words) for s in sentences])])
    summarizer = (LexRankSummarizer if kind == "lexrank" else TextRankSummarizer)(
        Stemmer("english"))
    summarizer.stop_words = get_stop_words("english")
    return [str(s) for s in summarizer(document, n)]


def run(pdf: Path, n: int, llm: str | None = None) -> dict[str, dict[str, float]]:
    from rouge_score import rouge_scorer

    from qa import Assistant, overview

    with tempfile.TemporaryDirectory() as scratch:
        bot = Assistant.from_paths([pdf], Path(scratch) / "index", progress=False)
        records = bot.store
        doc = records.document(records.sentence_doc[0])
        given = pdf.with_suffix(".abstract.txt")
        if given.exists():  # the authors' abstract, found in the text to keep it out
            reference = " ".join(given.read_text(encoding="utf-8").split())
            lo, hi = _located(doc.text, reference)
        else:
            found = _ABSTRACT.search(doc.text)
            if not found:
                raise SystemExit(f"{pdf.name}: no abstract found")
            reference = " ".join(found.group(1).split())
            lo, hi = found.start(), found.end()
        own = overview.own_summary(records, doc.path)  # what qa takes for the abstract
        if own and not lo < own[0].start < hi:  # goes too, wherever the abstract was found
            print(f"  {pdf.name}: abstract located at {lo}-{hi}, qa's own summary at "
                  f"{own[0].start}-{own[-1].end}: both kept out", file=sys.stderr)
            for row, span in enumerate(records.sentence_spans):
                if span.start < own[-1].end and span.end > own[0].start:
                    records.sentence_kind[row] = "reference"
        for row, span in enumerate(records.sentence_spans):
            if span.start < hi and span.end > lo or \
                    re.match(r"(Keywords|Index Terms)", doc.text[span.start:span.end]):
                records.sentence_kind[row] = "reference"  # kept out of every summary
        ours = [s.text for s in overview.digest(records, [doc.path], n).sources]
        rows = [r for r, kind in enumerate(records.sentence_kind) if kind == "body"]
        candidates = [doc.text[records.sentence_spans[r].start:records.sentence_spans[r].end]
                      for r in rows]
        candidates = [" ".join(c.split()) for c in candidates
                      if len(c.split()) >= overview.MIN_WORDS]
        summaries = {"qa digest": ours, "LexRank": _sumy("lexrank", candidates, n),
                     "TextRank": _sumy("textrank", candidates, n)}
        if llm:  # the model's digest, verified and filled from the extractive one
            from qa.answering import summarize
            from qa.answering.generative import chat_model

            model, name = chat_model(llm, bot.settings)
            answer = None
            for answer in summarize.digest(model, name, records, [doc.path], bot.embedder,
                                           bot.settings, overview.digest(records, [doc.path], n)):
                pass
            assert answer is not None and not isinstance(answer, str)
            summaries[f"qa digest, {name}"] = [c.text for c in answer.claims
                                              if c.supported] or [s.text for s in answer.sources]
            print(f"  {pdf.name}, {name}: {answer.mode}; {answer.note}", file=sys.stderr)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    return {name: {k: v.fmeasure for k, v in scorer.score(reference, " ".join(
        " ".join(s.split()) for s in picked)).items()} for name, picked in summaries.items()}


def grams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def abstract_share(pdf: Path) -> float:
    """The share of the authors' abstract's word 4-grams (NAME.abstract.txt
    beside the PDF) that the default digest holds, nothing kept out."""
    from qa import Assistant

    reference = grams(pdf.with_suffix(".abstract.txt").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as scratch:
        bot = Assistant.from_paths([pdf], Path(scratch) / "index", progress=False)
        digest = bot.digest()
    return len(reference & grams(digest.text)) / max(1, len(reference))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="+", type=Path)
    parser.add_argument("--sentences", type=int, default=7)
    parser.add_argument("--llm", help="also a chat model's digest (e.g. smollm2)")
    parser.add_argument("--record", metavar="NAME", help="save the table as results/NAME.json")
    parser.add_argument("--abstract-share", action="store_true",
                        help="only the share of each abstract's word 4-grams in the default "
                             "digest (the abstract read from NAME.abstract.txt)")
    args = parser.parse_args()
    if args.abstract_share:
        table = Table(args.record or "abstract-share", ["paper", "abstract 4-grams in the digest"])
        shares = []
        for pdf in args.pdfs:
            shares.append(abstract_share(pdf))
            table.add(pdf.name, shares[-1])
        table.add(f"mean of {len(shares)}", statistics.mean(shares))
        if args.record:
            print(f"recorded {table.save()}")
        return
    by_name: dict[str, list[dict[str, float]]] = {}
    table = Table(args.record or "summaries", ["paper", "summariser", "ROUGE-1", "ROUGE-2",
                                                "ROUGE-L"])
    for pdf in args.pdfs:
        for name, scores in run(pdf, args.sentences, args.llm).items():
            by_name.setdefault(name, []).append(scores)
            table.add(pdf.name, name, scores["rouge1"], scores["rouge2"], scores["rougeL"])
    for name, rows in by_name.items():
        means = {k: statistics.mean(r[k] for r in rows) for k in ("rouge1", "rouge2", "rougeL")}
        table.add(f"mean of {len(rows)}", name, means["rouge1"], means["rouge2"],
                  means["rougeL"])
    if args.record:
        print(f"recorded {table.save()}")


if __name__ == "__main__":
    main()
