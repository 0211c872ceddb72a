"""Gradio chat over your documents: cited answers, highlighted sources, uploads.

    python app.py [--host 127.0.0.1] [--port 7860] [--index-dir DIR] [--share [--share-open]] [--auth user:pw]

Gradio wiring only; the work happens in qa/.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402
from starlette.exceptions import HTTPException  # noqa: E402

from qa import Assistant, QAError  # noqa: E402
from qa.chat import (  # noqa: E402
    answer_markdown,
    index_uploads,
    remove_document,
    sources_html,
    suggestions,
)
from qa.documents import SUPPORTED  # noqa: E402

EXAMPLES = [
    "What did Botsan-Kharchenko warn?",
    "Who is Russia's Kosovo negotiator?",
    "Where would Serb refugees flow?",
    "How many people live in Kosovo?",
    "Who has administered Kosovo since 1999?",
]

REFRESH_SECONDS = 5  # how often an open page checks whether the documents changed

CSS = """
.qa-source {border:1px solid var(--border-color-primary); border-radius:8px; padding:8px 12px;
            margin-bottom:8px}
.qa-source-head {font-size:0.9em; opacity:0.8; margin-bottom:4px}
.qa-source mark {background:#ffe58a; color:#222; padding:0 2px; border-radius:3px}
.qa-empty {opacity:0.7; font-style:italic}
.qa-page summary {cursor:pointer; margin-top:6px}
"""


class _Page(gr.Blocks):
    """The page, whose config (what a browser's first render draws) carries
    the example questions about the documents indexed now: a reload never
    shows the examples of documents since replaced."""

    examples_now: Any = None  # () -> the chatbot's examples
    chat_id: int | None = None

    @property  # type: ignore[override]
    def config(self) -> Any:
        config = self.__dict__.get("_page_config")
        if config and self.examples_now is not None:
            for component in config.get("components", []):
                if component.get("id") == self.chat_id:
                    component.setdefault("props", {})["examples"] = self.examples_now()
        return config

    @config.setter
    def config(self, value: Any) -> None:
        self.__dict__["_page_config"] = value


def create_app(assistant: Assistant, uploads_dir: str | Path | None = None,
               collections: Any = None) -> gr.Blocks:
    """Build the page (without launching it); tests call its handlers directly.

    `collections` (qa.api.Collections) adds a collection picker to the chat.
    """
    uploads = Path(uploads_dir) if uploads_dir else assistant.index_dir.parent / "uploads"
    links = collections.page_links if collections else None  # pages need the /v1 routes
    chat_model = assistant.chat_model()
    model = chat_model[1] if chat_model else ""

    def respond(message: str, history: list[dict[str, Any]], only: list[str] | None = None,
                collection: str | None = None) -> Iterator[tuple[str, str]]:
        """The model's words as they stream, then the verified answer and its sources.

        `only` limits the answer to those documents; `collection` picks the index.
        """
        try:
            bot = collections.get(collection) if collections and collection else assistant
            text, first, panel = "", "", sources_html(None)
            budget = f"{bot.settings.llm_budget_s:g}"
            for piece in bot.stream(message, history=history, sources=only or None):
                if isinstance(piece, str):
                    text += piece
                    if model:  # the model's verified sentences (under the answer shown)
                        shown = f"{first}\n\n**{model}:** {text} ▌" if first else f"{text} ▌"
                        yield f"{shown}\n\n<sub>{model} is writing (at most {budget} s); "\
                              f"each sentence shows once the documents support it…</sub>", panel
                elif model and not first and piece.mode == "extractive":
                    # with a model, the extractive answer comes first, at once
                    first, panel = answer_markdown(piece), sources_html(piece, links, collection)
                    yield f"{first}\n\n<sub>⏳ {model} is reading the passages (at most "\
                          f"{budget} s); its answer replaces this one if the documents "\
                          f"support it…</sub>", panel
                else:
                    yield answer_markdown(piece), sources_html(piece, links, collection)
        except QAError as exc:
            yield f"⚠️ {exc}", sources_html(None)
        except HTTPException as exc:  # an unknown collection
            yield f"⚠️ {exc.detail}", sources_html(None)

    def ask(question: str, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Answer a question from the indexed documents, with its sources, as JSON.

        `history` is the conversation so far, as [{"role", "content"}] messages.
        """
        try:
            return assistant.ask(question, history=history or None).to_dict()
        except QAError as exc:
            return {"error": str(exc), "answer": "", "found": False, "sources": []}

    def documents_table() -> list[list[Any]]:
        return [[d["source"], d["chunks"]] for d in assistant.documents()]

    def choices() -> list[tuple[str, str]]:
        """(label, path) per document; a name shared by several files shows its folder."""
        docs = assistant.documents()
        names = [d["source"] for d in docs]
        return [(d["source"] if names.count(d["source"]) == 1
                 else f"{d['source']} ({Path(d['path']).parent})", d["path"]) for d in docs]

    def document_choices() -> gr.Dropdown:
        return gr.Dropdown(choices=choices(), value=None)

    made: list[Any] = [None, None]  # the snapshot the examples were made for, and them

    def current_examples() -> list[dict[str, str]] | None:
        """The example questions about the documents indexed now (made once per
        index snapshot: the page's config reads them on every request)."""
        snapshot = assistant.snapshot()
        if made[0] is not snapshot:
            asked = suggestions(assistant.documents(), EXAMPLES)
            made[:] = [snapshot, [{"text": q} for q in asked] or None]
        return made[1]

    def examples() -> gr.Chatbot:
        """The chat's example questions, about the documents indexed now."""
        return gr.Chatbot(examples=current_examples())

    uploading: set[str] = set()  # the pages whose own upload shows its progress

    def refresh(seen: str, request: gr.Request | None = None) -> tuple:
        """Every few seconds, each open page: when the documents changed (an upload
        or a removal in another tab or process), the list, the choices and the
        examples follow, and an upload under way elsewhere shows its progress;
        otherwise nothing is sent. Never raises: an index being switched,
        rebuilt or replaced is read as it was (`Assistant.documents`)."""
        mine = request is not None and request.session_hash in uploading
        line = "" if mine else assistant.underway.line()
        docs = assistant.documents()
        key = "|".join(sorted(f"{d['path']}:{d['chunks']}" for d in docs))
        shown = f"{line}…" if line else ""
        if f"{key}\n{shown}" == seen:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen
        old_key, _, old_shown = seen.partition("\n")
        underway = shown if shown != old_shown else gr.skip()
        if key == old_key:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), underway, f"{key}\n{shown}"
        return documents_table(), document_choices(), \
            gr.Dropdown(choices=[d["source"] for d in docs]), examples(), underway, \
            f"{key}\n{shown}"

    def upload(files: list[str] | None, request: gr.Request | None = None,
               progress: gr.Progress = gr.Progress()) -> tuple:
        def tell(stage: str, fraction: float, name: str) -> None:
            progress(fraction, desc=f"{stage.capitalize()} {name}…" if name else
                     f"{stage.capitalize()} the index…")

        if files:
            progress(0.02, desc=f"Receiving {len(files)} file(s)…")
        session = request.session_hash if request is not None else None
        if session:
            uploading.add(session)
        try:
            report, errors = index_uploads(assistant, [(f, Path(f).name) for f in files or []],
                                           uploads, tell)
        finally:  # Gradio's cached copies would stay servable at /gradio_api/file=
            uploading.discard(session or "")
            for received in files or []:
                Path(received).unlink(missing_ok=True)
        messages = [f"⚠️ {line}" for line in errors]
        if report:
            done = report.added + report.updated
            if report.removed:
                messages.append(f"Dropped {report.removed} document(s): the demo article your "
                                f"files replace, or files no longer on disk.")
            if done or report.unchanged:
                messages.insert(0, f"Indexed {done} new or changed file(s), "
                                   f"{report.unchanged} unchanged; {report.chunks} chunks in all.")
            if report.model:
                messages.append("Most of the text is not English, so the index now uses the "
                                "multilingual model: ask in any language it reads.")
            if report.not_english:
                messages.append(f"⚠️ {', '.join(report.not_english[:3])}: not English, and this "
                                f"index's model is English-only. An index built with "
                                f"QA_MODEL=multilingual answers across languages (see the "
                                f"docs' Other languages page).")
            messages += [f"⚠️ {one} is nearly the same as {other}, already indexed."
                         for one, other in report.duplicates]
        status = "\n\n".join(messages) or "No file was uploaded."
        return status, documents_table(), document_choices(), None

    def summarize(path: str | None, history: list[dict[str, Any]] | None) -> tuple:
        """The chosen document's digest, posted to the chat as a question and its answer."""
        history = list(history or [])
        if not path:
            return history, history, sources_html(None)
        try:
            answer = assistant.digest([path])
            reply, panel = answer_markdown(answer), sources_html(answer, links, None)
        except QAError as exc:
            reply, panel = f"⚠️ {exc}", sources_html(None)
        history += [{"role": "user", "content": f"Summarize {Path(path).name}"},
                    {"role": "assistant", "content": reply}]
        return history, history, panel

    def remove(path: str | None) -> tuple:
        if not path:
            return "Choose a document to remove.", documents_table(), document_choices()
        report = remove_document(assistant, path, uploads, lambda held: bool(
            collections and collections.holds(held, besides=assistant)))
        status = "\n".join(report.errors) or f"Removed {Path(path).name}."
        return status, documents_table(), document_choices()

    with _Page(title="qa: ask your documents") as demo:
        gr.Markdown("# Ask your documents\n" + (
            f"Answers are written by **{model}** and every sentence is checked against your "
            f"documents; what they do not support is struck through." if model else
            "Answers are sentences taken from your documents, with their source. "
            "Nothing leaves this machine."))
        with gr.Row():
            with gr.Column(scale=3):
                panel = gr.HTML(sources_html(None), render=False, elem_id="sources")
                only = gr.Dropdown(label="Answer only from these documents (none: all)",
                                   choices=[d["source"] for d in assistant.documents()],
                                   multiselect=True, elem_id="only", render=False)
                names = collections.names() if collections else ["default"]
                picker = gr.Dropdown(label="Collection", choices=names, value=names[0],
                                     visible=len(names) > 1, elem_id="collection",
                                     render=False)
                chat = gr.ChatInterface(
                    respond,
                    additional_inputs=[only, picker],
                    additional_inputs_accordion="Search in: documents and collection",
                    chatbot=gr.Chatbot(height=460, label="Chat", elem_id="chat"),
                    textbox=gr.Textbox(placeholder="Ask a question about your documents…",
                                       elem_id="question", submit_btn=True),
                    additional_outputs=[panel],
                    examples=[[q, None, None] for q in suggestions(assistant.documents(),
                                                                   EXAMPLES)] or None,
                    run_examples_on_click=True,
                    # The model's raw words stream here before verification: the
                    # browser's own endpoint only. Programs use /ask (verified).
                    api_name="chat",
                    api_visibility="private",
                )
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                panel.render()
                with gr.Accordion("Your documents", open=True):
                    files = gr.File(label=f"Add {' '.join(SUPPORTED)} (up to 20 MB each)",
                                    file_count="multiple", elem_id="upload",
                                    file_types=list(SUPPORTED))
                    status = gr.Markdown(elem_id="upload-status")
                    underway = gr.Markdown(elem_id="underway")  # another page's upload
                    table = gr.Dataframe(value=documents_table, headers=["Document", "Chunks"],
                                         interactive=False, elem_id="documents")
                    with gr.Row():
                        choice = gr.Dropdown(label="A document", choices=choices(), scale=3,
                                             elem_id="document")
                        with gr.Column(scale=1, min_width=100):
                            summary = gr.Button("Summarize", elem_id="summarize")
                            button = gr.Button("Remove", variant="stop")
        def names() -> gr.Dropdown:
            return gr.Dropdown(choices=[d["source"] for d in assistant.documents()])

        # the upload's progress shows in one place: its status line
        files.upload(upload, files, [status, table, choice, files], api_name="upload",
                     show_progress_on=[status]).then(
            names, None, only, api_visibility="private").then(
            examples, None, chat.chatbot, api_visibility="private")
        button.click(remove, choice, [status, table, choice], api_name="remove").then(
            names, None, only, api_visibility="private").then(
            examples, None, chat.chatbot, api_visibility="private")
        seen = gr.State("")
        gr.Timer(REFRESH_SECONDS).tick(refresh, seen,
                                       [table, choice, only, chat.chatbot, underway, seen],
                                       api_visibility="private", show_progress="hidden")
        summary.click(summarize, [choice, chat.chatbot], [chat.chatbot, chat.chatbot_state,
                                                          panel], api_visibility="private")
        gr.api(ask, api_name="ask")
        demo.load(lambda: (documents_table(), document_choices(), names()), None,
                  [table, choice, only], api_visibility="private")
    demo.examples_now, demo.chat_id = current_examples, chat.chatbot._id
    demo.queue(default_concurrency_limit=8)
    demo.qa_handlers = {"chat": respond, "ask": ask, "upload": upload,  # type: ignore[attr-defined]
                        "remove": remove, "summarize": summarize, "refresh": refresh}
    return demo


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Chat with your documents in the browser.")
    parser.add_argument("--host", default=env("QA_HOST", "127.0.0.1"),
                        help="address to listen on ($QA_HOST; default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=_port, default=env("QA_PORT", "7860"),
                        help="port ($QA_PORT; default 7860)")
    parser.add_argument("--index-dir", default=env("QA_INDEX_DIR"),
                        help="index folder ($QA_INDEX_DIR; default: the bundled demo's index)")
    parser.add_argument("--store", default=env("QA_STORE"), metavar="STORE",
                        help="where the index lives: faiss (the index folder; default), "
                             "milvus:///abs/path/file.db (Milvus Lite) or milvus://host:19530 "
                             "($QA_STORE)")
    parser.add_argument("--share", action="store_true",
                        default=env("QA_SHARE", "").lower() in ("1", "true", "yes"),
                        help="also publish a public gradio.live link ($QA_SHARE; off by default)")
    parser.add_argument("--share-open", action="store_true",
                        default=env("QA_SHARE_OPEN", "").lower() in ("1", "true", "yes"),
                        help="allow --share without --auth: anyone with the link may ask, "
                             "upload and remove ($QA_SHARE_OPEN; off by default)")
    parser.add_argument("--auth", default=env("QA_AUTH"), metavar="USER:PASSWORD",
                        help="require this login for the chat, its Gradio API and /v1 "
                             "($QA_AUTH)")
    parser.add_argument("--llm", default=env("QA_LLM") or None, metavar="MODEL",
                        help="answer with a chat model, each sentence verified: provider:model, "
                             "gguf:/path/model.gguf or smollm2 ($QA_LLM; default: extractive)")
    parser.add_argument("--api-key", default=env("QA_API_KEY") or None, metavar="KEY",
                        help="require 'Authorization: Bearer KEY' on the /v1 API; with the "
                             "chat on, --auth is needed too ($QA_API_KEY)")
    parser.add_argument("--collections-dir", default=env("QA_COLLECTIONS_DIR") or None,
                        metavar="DIR", help="a folder of named indexes, one folder each "
                                            "($QA_COLLECTIONS_DIR)")
    return parser.parse_args(argv)


def _port(value: str) -> int:
    """A TCP port number, or argparse's one-line error naming the bad value."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def main() -> None:
    import logging
    import sys

    from qa.server import check_protection, parse_auth

    # The first start's one-time model export says what it is doing, here too.
    logging.basicConfig(level=logging.WARNING, format="qa: %(message)s")
    args = _arguments()
    try:
        auth = parse_auth(args.auth)
        # The chat is served either way (--share serves it alone), so a key needs a login.
        check_protection(args.api_key, True, auth, share=args.share,
                         open_share=args.share_open, api_alone="qa serve --no-ui --api-key KEY")
    except QAError as exc:
        sys.exit(f"app.py: error: {exc}")
    from qa.api import Collections
    from qa.server import build, run, starting

    try:
        # The browser shows what a first start is doing (up to a minute or two).
        with starting(args.host, args.port, private=bool(args.api_key or auth)):
            assistant = Assistant.bundled(args.index_dir, llm=args.llm, store=args.store)
            assistant.embedder.warm_up()
            assistant.chat_model()  # a bad model name fails here, in one line
            # Gradio refuses bigger uploads while they stream in, before they reach us.
            limit = assistant.settings.max_file_bytes
            if not args.share:
                collections = Collections(assistant, args.collections_dir)
                app = build(collections, args.api_key,
                            create_app(assistant, collections=collections), auth, css=CSS,
                            footer_links=[], max_file_size=limit)
    except (QAError, ValueError) as exc:  # ValueError: a bad QA_* setting
        sys.exit(f"app.py: error: {exc}")
    if args.share:  # a gradio.live link needs Gradio's own launcher: the chat only
        print("app.py: --share publishes the chat only; the /v1 API stays local-only off",
              file=sys.stderr)
        create_app(assistant).launch(server_name=args.host, server_port=args.port,
                                     share=True, auth=auth, css=CSS, footer_links=[],
                                     max_file_size=limit)
        return
    run(app, args.host, args.port)


if __name__ == "__main__":
    main()
