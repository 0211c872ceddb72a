"""The HTTP API under /v1: REST routes and OpenAI-compatible chat completions.

Routes call the Assistant only. `create_api(collections, ...)` returns a
FastAPI app; app.py mounts the Gradio chat beside it, `qa serve --no-ui` runs
it alone. Errors are OpenAI-shaped JSON, {"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from . import completions
from .assistant import BUNDLED, Assistant
from .chat import PageLinks, cited_text, index_uploads, remove_document
from .completions import ChatRequest, Message, Unsupported
from .embeddings import make_embedder
from .errors import DocumentError, IndexMismatchError, QAError, QuestionError
from .indexing import adopt_shape
from .overview import VALUE_KINDS

logger = logging.getLogger(__name__)

MODEL = "qa"


class AskRequest(BaseModel):
    question: str
    history: list[Message] | None = None
    sources: list[str] | None = Field(None, description="answer only from these documents")
    collection: str | None = None


class SourceOut(BaseModel):
    source: str
    text: str
    start: int
    end: int
    page: int | None
    score: float


class ClaimOut(BaseModel):
    text: str
    sources: list[int]
    supported: bool
    score: float


class AnswerOut(BaseModel):
    answer: str
    found: bool
    sources: list[SourceOut]
    mode: Literal["extractive", "generated", "fallback"]
    claims: list[ClaimOut]
    model: str | None = None
    note: str | None = None


class DocumentOut(BaseModel):
    id: str = Field(description="reaches this document in /v1/documents/{name} routes, "
                                "also where several files share a name")
    source: str
    path: str
    chunks: int


class Collections:
    """Named indexes: "default" (the assistant given), plus one per index folder
    inside `folder` (QA_COLLECTIONS_DIR). They share one embedding model."""

    def __init__(self, default: Assistant, folder: str | Path | None = None) -> None:
        self.default = default
        self.folder = Path(folder) if folder else None
        self._open: dict[str, Assistant] = {}
        self._embedders: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.page_links = PageLinks()  # the chat writes them, /v1/page-views draws them

    def names(self) -> list[str]:
        found = sorted(p.name for p in self.folder.iterdir()
                       if (p / "manifest.json").exists()) if self.folder and \
            self.folder.is_dir() else []
        return ["default", *found]

    def get(self, name: str | None) -> Assistant:
        """The collection's assistant.

        Raises:
            HTTPException: 404 for a collection that does not exist.
        """
        if not name or name == "default":
            return self.default
        if name not in self.names():
            raise APIError(404, f"no collection {name!r}; collections: "
                                f"{', '.join(self.names())}", "collection", "collection_not_found")
        with self._lock:
            if name not in self._open:
                assert self.folder is not None
                self._open[name] = self._load(self.folder / name)
            return self._open[name]

    def _load(self, folder: Path) -> Assistant:
        """A collection's index with the model it records (the default index
        may have changed model since), sharing each model's embedder."""
        base = self.default
        try:
            return Assistant.load(folder, base.settings, base.embedder, base._llm_spec)
        except IndexMismatchError as exc:
            settings = adopt_shape(base.settings, exc.recorded)
            if settings is None:
                raise
        key = (settings.model, settings.backend)
        if key not in self._embedders:
            self._embedders[key] = make_embedder(settings.model, settings.backend,
                                                 settings.batch_size)
        return Assistant.load(folder, settings, self._embedders[key], base._llm_spec)

    def holds(self, path: str, besides: Assistant) -> bool:
        """Whether an index other than `besides` holds the file `path`."""
        for name in self.names():
            bot = self.get(name)
            if bot is not besides and path in bot.store.latest().files():
                return True
        return False


class APIError(HTTPException):
    """An HTTP error with OpenAI's `param` and `code`."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(status, message)
        self.param, self.code = param, code


def _model_ids(collections: Collections) -> list[str]:
    return [MODEL] + [f"{MODEL}/{n}" for n in collections.names() if n != "default"]


def _collection(collections: Collections, model: str | None,
                collection: str | None) -> str | None:
    """`collection`, or the collection an OpenAI `model` names ("qa", "qa/NAME").

    Raises:
        APIError: 404 model_not_found for any other model, listing the valid ids.
    """
    if collection:
        return collection
    if not model or model == MODEL:
        return None
    name = model.split("/", 1)[1] if model.startswith(f"{MODEL}/") else None
    if name is None or name not in collections.names():
        raise APIError(404, f"the model {model!r} does not exist; models: "
                            f"{', '.join(_model_ids(collections))}", "model", "model_not_found")
    return name


def create_api(collections: Collections, api_key: str | None = None,
               uploads_dir: str | Path | None = None,
               auth: tuple[str, str] | None = None) -> FastAPI:
    """The FastAPI app with /v1 routes and /healthz.

    Args:
        collections: the indexes to serve.
        api_key: when set, every /v1 route needs `Authorization: Bearer <key>`.
        uploads_dir: where uploaded files are kept (default: uploads/ beside the index).
        auth: (user, password): every /v1 route also takes this login as HTTP Basic
            (and needs it when there is no key).
    """
    protected = bool(api_key or auth)
    # A protected server's schema and docs need the credentials too (routes below).
    app = FastAPI(title="qa", version="1", description="Ask questions about your documents; "
                  "answers cite their sources.", redoc_url=None,
                  docs_url=None if protected else "/docs",
                  openapi_url=None if protected else "/openapi.json")
    uploads = Path(uploads_dir) if uploads_dir else \
        collections.default.index_dir.parent / "uploads"

    def authorize(request: Request) -> None:
        if not api_key and not auth:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if api_key and scheme.lower() == "bearer" and token and \
                hmac.compare_digest(token.encode(), api_key.encode()):
            return
        if auth and scheme.lower() == "basic" and _login(token, auth):
            return
        wanted = "Authorization: Bearer KEY" if api_key else "HTTP Basic login"
        raise APIError(401, f"a valid API key is required: {wanted}"
                       if api_key else f"a valid login is required: {wanted}", None,
                       "invalid_api_key")

    guarded = [Depends(authorize)]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = {401: "authentication_error", 404: "not_found_error"}.get(
            exc.status_code, "invalid_request_error")
        return _error(exc.status_code, str(exc.detail), kind, getattr(exc, "param", None),
                      getattr(exc, "code", None) or ("not_found" if exc.status_code == 404
                                                     else None))

    @app.exception_handler(Unsupported)
    async def unsupported(request: Request, exc: Unsupported) -> JSONResponse:
        return _error(400, str(exc), "invalid_request_error", exc.param, exc.code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _error(400, "the request body is not valid JSON", "invalid_request_error",
                          None, "invalid_json")
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(400, f"{where or 'body'}: {first.get('msg', 'invalid request')}",
                      "invalid_request_error", where or None, "invalid_value")

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        return _error(400, str(exc), "invalid_request_error")

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("error in %s", request.url.path)
        return _error(500, f"internal error ({type(exc).__name__})", "server_error", None,
                      "internal_error")

    @app.get("/healthz")
    def healthz(request: Request) -> dict[str, Any]:
        """The index is loaded (and, to a caller with credentials, its size)."""
        try:
            authorize(request)
        except APIError:
            return {"status": "ok"}
        store = collections.default.store
        return {"status": "ok", "documents": len(store.files()), "chunks": store.count()}

    if protected:
        from fastapi.openapi.docs import get_swagger_ui_html

        @app.get("/openapi.json", dependencies=guarded, include_in_schema=False)
        def schema() -> dict[str, Any]:
            return app.openapi()

        @app.get("/docs", dependencies=guarded, include_in_schema=False)
        def docs() -> Any:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="qa API")

    @app.post("/v1/ask", dependencies=guarded,
              responses={200: {"model": AnswerOut, "description": "the answer"}})
    def ask(body: AskRequest) -> JSONResponse:
        """Answer a question from the documents, with its sources."""
        bot = collections.get(body.collection)
        history = [m.model_dump() for m in body.history or []]
        # Answer.to_dict() is already the AnswerOut shape: skip re-validating it.
        return JSONResponse(bot.ask(body.question, history or None, body.sources).to_dict())

    def model_card(ident: str) -> dict[str, Any]:
        return {"id": ident, "object": "model", "created": 0, "owned_by": "qa"}

    @app.get("/v1/models", dependencies=guarded)
    def models() -> dict[str, Any]:
        """The collections, as OpenAI models: "qa" and "qa/<collection>"."""
        return {"object": "list", "data": [model_card(n) for n in _model_ids(collections)]}

    @app.get("/v1/models/{model_id:path}", dependencies=guarded)
    def model(model_id: str) -> dict[str, Any]:
        """One model ("qa" or "qa/<collection>")."""
        _collection(collections, model_id, None)
        return model_card(model_id)

    @app.post("/v1/chat/completions", dependencies=guarded)
    def chat(body: ChatRequest) -> Any:
        """OpenAI-compatible chat: the last user message is the question, earlier
        messages the history. The answer text carries [n] marks; the sources
        are in `qa_sources` (and in the last chunk when streaming). `stop`,
        `max_tokens` and `stream_options.include_usage` are honoured; n > 1,
        required tool calls and JSON reply formats get a 400."""
        completions.check(body)
        bot = collections.get(_collection(collections, body.model, body.collection))
        messages = [m.model_dump() for m in body.messages if m.role in ("user", "assistant")]
        if not messages or messages[-1]["role"] != "user":
            raise QuestionError("the last message must be the user's question")
        answer = bot.ask(completions.text_of(messages[-1]), messages[:-1] or None)
        reply, finish = completions.shape(cited_text(answer), body.stop,
                                          body.max_completion_tokens or body.max_tokens)
        used = completions.usage([m.model_dump() for m in body.messages], reply, answer)
        ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.stream:
            include = bool((body.stream_options or {}).get("include_usage"))
            return StreamingResponse(
                completions.chunks(ident, body.model, reply, finish, answer,
                                   used if include else None),
                media_type="text/event-stream")
        return {
            "id": ident, "object": "chat.completion", "created": int(time.time()),
            "model": body.model,
            "choices": [{"index": 0, "finish_reason": finish, "message": {
                "role": "assistant", "content": reply}}],
            "usage": used,
            "qa_sources": [s.to_dict() for s in answer.sources],
            "qa_answer": answer.to_dict(),
        }

    @app.get("/v1/documents", response_model=list[DocumentOut], dependencies=guarded)
    def documents(collection: str | None = None) -> list[dict[str, Any]]:
        """The indexed documents; `path` is relative to the folder they were
        indexed from (never the server's own layout)."""
        return public_paths(collections.get(collection).documents(), uploads)

    @app.get("/v1/documents/{name}", response_model=DocumentOut, dependencies=guarded)
    def document(name: str, collection: str | None = None) -> dict[str, Any]:
        """One indexed document, by id, file name or relative path."""
        listed = public_paths(collections.get(collection).documents(), uploads)
        found = [d for d in listed if name in (d["id"], d["source"], d["path"])]
        if len(found) != 1:
            raise HTTPException(404 if not found else 400,
                                f"{name!r} is not in the index" if not found else
                                f"{len(found)} documents are named {name!r}; use an id "
                                "from /v1/documents")
        return found[0]

    @app.post("/v1/documents", dependencies=guarded)
    def upload(files: list[UploadFile] = File(...),
               collection: str | None = Form(None)) -> dict[str, Any]:
        """Add files (multipart), with the chat's limits and messages."""
        bot = collections.get(collection)
        folder = uploads if bot is collections.default else uploads / str(collection)
        with tempfile.TemporaryDirectory() as scratch:
            received = []
            for item in files:
                temp = Path(scratch) / uuid.uuid4().hex
                with open(temp, "wb") as out:
                    while chunk := item.file.read(1 << 20):
                        out.write(chunk)
                received.append((temp, item.filename or "upload"))
            report, errors = index_uploads(bot, received, folder)
        if not report or not (report.added or report.updated or report.unchanged):
            raise HTTPException(400, "; ".join(errors) or "no file was indexed")
        return {**report.to_dict(), "errors": errors}

    @app.get("/v1/documents/{name}/pages/{page}.png", dependencies=guarded,
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def page_image(name: str, page: int, highlight: str | None = None,
                   collection: str | None = None) -> Response:
        """A page of an indexed PDF as PNG; `highlight=START-END` (document
        offsets, as a source's start and end) marks that passage on it."""
        marked = None
        if highlight:
            match = re.fullmatch(r"(\d{1,12})-(\d{1,12})", highlight)
            if not match:
                raise HTTPException(400, f"highlight={highlight[:40]!r} is not START-END")
            marked = (int(match.group(1)), int(match.group(2)))
        bot = collections.get(collection)
        return Response(_picture(bot, name, page, marked, "PNG"), media_type="image/png")

    @app.get(PageLinks.ROUTE + "{token}", response_class=Response, include_in_schema=False)
    def page_view(token: str) -> Response:
        """The chat's "See it on page N": a link signed by this server (naming the
        document by id, expiring) is the credential."""
        try:
            doc, page, start, end, collection = collections.page_links.open(token)
        except (ValueError, TypeError, UnicodeDecodeError):
            raise HTTPException(404, "no such page link") from None
        picture = _picture(collections.get(collection), doc, page, (start, end), "JPEG")
        return Response(picture, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/v1/documents/{name}/summary", dependencies=guarded,
             responses={200: {"model": AnswerOut, "description": "the digest"}})
    def summary(name: str, sentences: int | None = Query(None, ge=1, le=50),
                collection: str | None = None) -> JSONResponse:
        """An extractive summary of one document, every sentence cited."""
        return JSONResponse(collections.get(collection).digest([name], sentences).to_dict())

    @app.get("/v1/find", dependencies=guarded)
    def find(kind: str | None = None, term: str | None = None,
             name: list[str] | None = Query(None), collection: str | None = None,
             offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)
             ) -> dict[str, Any]:
        """Every value of a kind (date, number, amount, email, url, person,
        organisation, place) or every sentence that mentions `term`, in the
        named documents (all by default), each with its sentence and page;
        `limit` of them from `offset` (`total` counts all, `next_offset` is
        null on the last page)."""
        if bool(kind) == bool(term):
            raise QuestionError("give kind (date, number, amount, email, url, person, "
                                "organisation, place) or term, one of them")
        if kind and kind not in VALUE_KINDS:
            raise QuestionError(f"unknown kind {kind!r}; one of: {', '.join(VALUE_KINDS)}")
        bot = collections.get(collection)
        items = bot.find(kind or term or "", name)
        page = items[offset:offset + limit]
        return {"kind": kind or "mentions", "term": term, "total": len(items), "offset": offset,
                "next_offset": offset + limit if offset + limit < len(items) else None,
                "items": [i.to_dict() for i in page]}

    @app.delete("/v1/documents/{name}", dependencies=guarded)
    def delete(name: str, collection: str | None = None) -> dict[str, Any]:
        """Remove a document by file name or path (an uploaded copy goes too)."""
        bot = collections.get(collection)
        folder = uploads if bot is collections.default else uploads / str(collection)
        report = remove_document(bot, name, folder,
                                 lambda path: collections.holds(path, besides=bot))
        if report.errors:
            raise HTTPException(404 if "not in the index" in report.errors[0] else 400,
                                report.errors[0])
        return report.to_dict()

    return app


def public_paths(documents: list[dict[str, Any]], uploads: Path) -> list[dict[str, Any]]:
    """`documents` with each path made relative to where it came from: the
    upload folder, the bundled data, or else the folder all the others share
    (a lone file: its name). API clients never see the server's absolute paths."""
    roots = [uploads.resolve(), BUNDLED.parent.resolve()]
    others = [Path(d["path"]).parent for d in documents
              if not any(Path(d["path"]).is_relative_to(r) for r in roots)]
    if others:
        roots.append(Path(os.path.commonpath(others)))
    out = []
    for doc in documents:
        path = Path(doc["path"])
        root = next((r for r in roots if path.is_relative_to(r) and path != r), None)
        out.append({**doc, "path": path.relative_to(root).as_posix() if root else path.name})
    return out


def _picture(bot: Assistant, name: str, page: int, marked: tuple[int, int] | None,
             image_format: str) -> bytes:
    """A page picture, or the 4xx that says why there is none (never a 5xx)."""
    try:
        return bot.page_image(name, page, marked, image_format=image_format)
    except QuestionError as exc:
        raise HTTPException(404 if "not in the index" in str(exc) else 400, str(exc)) \
            from None
    except DocumentError as exc:  # no such page, the file gone or changed, cannot be drawn
        status = 409 if "changed since" in str(exc) else \
            422 if "cannot be drawn" in str(exc) else 404
        raise HTTPException(status, str(exc)) from None


def _login(token: str, auth: tuple[str, str]) -> bool:
    """Whether an HTTP Basic token carries the login."""
    import base64
    import binascii

    try:
        user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user.encode(), auth[0].encode()) & \
        hmac.compare_digest(password.encode(), auth[1].encode())


def _error(status: int, message: str, kind: str, param: str | None = None,
           code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": " ".join(message.split()), "type": kind,
                                   "param": param, "code": code}}, status_code=status)
