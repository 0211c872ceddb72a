"""The `qa` command: index, ask, eval. Thin: the Assistant does the work."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Ask questions about your documents, offline, with cited answers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    index_help = "index folder (default: $QA_INDEX_DIR, else ./index in a checkout)"

    p = sub.add_parser("index", help="index files and folders (.txt .md .html .pdf)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-d", "--index-dir", default=os.environ.get("QA_INDEX_DIR"), help=index_help)
    p.add_argument("--rebuild", action="store_true", help="discard the existing index first")
    p.add_argument("-j", "--json", action="store_true", help="print a JSON summary")

    p = sub.add_parser("ask", help="ask a question")
    p.add_argument("question")
    p.add_argument("-d", "--index-dir", default=os.environ.get("QA_INDEX_DIR"), help=index_help)
    p.add_argument("-j", "--json", action="store_true", help="print the answer as JSON")

    p = sub.add_parser("eval", help="score answers on a JSONL or SQuAD-format file")
    p.add_argument("file")
    p.add_argument("-d", "--index-dir", default=os.environ.get("QA_INDEX_DIR"), help=index_help)
    p.add_argument("-j", "--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--failures", type=int, default=0, metavar="N", help="show N failed questions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from .errors import QAError

    try:
        return {"index": _index, "ask": _ask, "eval": _eval}[args.command](args)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # invalid settings from QA_* variables
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa: interrupted; the index is as it was before this command", file=sys.stderr)
        return 130


def _index(args: argparse.Namespace) -> int:
    import shutil

    from .assistant import Assistant, default_index_dir

    folder = args.index_dir or default_index_dir()
    if args.rebuild:
        shutil.rmtree(folder, ignore_errors=True)
    bot = Assistant.open_or_create(folder)
    report = bot.add(args.paths)
    for line in report.errors:
        print(f"qa: skipped {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"{report.added} added, {report.updated} updated, {report.removed} removed, "
              f"{report.unchanged} unchanged; {report.chunks} chunks in {bot.index_dir}")
    indexed = report.added + report.updated + report.unchanged
    return 1 if report.errors and not indexed else 0


def _ask(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    bot = Assistant.bundled(args.index_dir) if args.index_dir is None else Assistant.load(args.index_dir)
    answer = bot.ask(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return 0
    print(answer.text)
    for number, source in enumerate(answer.sources, 1):
        page = f", page {source.page}" if source.page else ""
        print(f"  [{number}] {source.source}{page}, chars {source.start}-{source.end} "
              f"(score {source.score:.2f})")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate

    report = evaluate(args.file, args.index_dir, progress=sys.stderr.isatty())
    summary = report.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        width = max(len(key) for key in summary)
        for key, value in summary.items():
            print(f"{key:<{width}}  {'n/a' if value is None else value}")
    for failure in report.failures[:args.failures]:
        print(json.dumps(failure, ensure_ascii=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
