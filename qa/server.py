"""One server: the HTTP API under /v1 and, unless headless, the Gradio chat at /.

Used by `python app.py` and `qa serve`. Listens on 127.0.0.1 unless told otherwise.

What protects what:
    api_key   /v1 needs `Authorization: Bearer KEY`.
    auth      the chat at / and all of Gradio's own routes need the login
              (USER:PASSWORD); /v1 also takes it as HTTP Basic.
    no UI     only /v1 and /healthz exist.
A key with the chat mounted and no login is refused: Gradio's routes would
answer, upload and remove for anyone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from .api import Collections
from .errors import QAError

logger = logging.getLogger(__name__)

JSON_LIMIT = 1_000_000  # bytes of any request body but an upload
UPLOAD_FILES = 10  # files one Gradio upload request may carry, each up to the file limit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """USER:PASSWORD as a pair (None for no login).

    Raises:
        QAError: not of the form USER:PASSWORD.
    """
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise QAError("--auth takes USER:PASSWORD (or set QA_AUTH=USER:PASSWORD)")
    return user, password


def check_protection(api_key: str | None, ui: bool, auth: tuple[str, str] | None,
                     share: bool = False, open_share: bool = False,
                     api_alone: str = "--no-ui") -> None:
    """Refuse a configuration that would serve documents to people it was told to keep out.
    `api_alone` is how the caller's command serves the API without the chat.

    Raises:
        QAError: an API key with the chat mounted and no login (the chat's own
            Gradio API would answer, upload and remove for anyone), or a public
            share link with no login and no explicit opt-in.
    """
    if api_key and ui and not auth:
        raise QAError("--api-key protects /v1 only, and the chat's own Gradio API would "
                      "answer, upload and remove for anyone; add a login with --auth "
                      f"USER:PASSWORD ($QA_AUTH), or serve the API alone with {api_alone}")
    if share and not auth and not open_share:
        raise QAError("--share publishes the chat (answers, uploads, removal) to anyone with "
                      "the link; add a login with --auth USER:PASSWORD ($QA_AUTH), or pass "
                      "--share-open ($QA_SHARE_OPEN=1) to publish it without one")


def build(collections: Collections, api_key: str | None = None, ui: Any = None,
          auth: tuple[str, str] | None = None, **ui_options: Any) -> Any:
    """The ASGI app: /v1 and /healthz, plus the Gradio Blocks `ui` mounted at /.

    Args:
        collections: the indexes to serve (the default one, and QA_COLLECTIONS_DIR's).
        api_key: required as `Authorization: Bearer KEY` on /v1 routes when set.
        ui: a gr.Blocks to serve at / (None: headless).
        auth: (user, password) for the UI and its Gradio API (and /v1, as HTTP Basic).
        ui_options: passed to gr.mount_gradio_app (css, max_file_size, ...).

    Raises:
        QAError: an API key with the chat mounted and no login.
    """
    from .api import create_api

    check_protection(api_key, ui is not None, auth)
    app = create_api(collections, api_key, auth=auth)
    if ui is not None:
        import gradio as gr

        app = gr.mount_gradio_app(app, ui, path="/", auth=auth, **ui_options)
    file_limit = collections.default.settings.max_file_bytes

    def limit(path: str) -> int:
        if path.startswith("/v1/documents"):
            return file_limit + 100_000
        if path.rstrip("/").endswith("/gradio_api/upload"):
            return UPLOAD_FILES * file_limit + 100_000
        return JSON_LIMIT

    return BodyLimit(app, limit)


class BodyLimit:
    """Refuses a request body over its route's limit with 413, counting bytes
    as they arrive: a chunked body carries no Content-Length, and a declared
    one may lie. The app never reads past the limit."""

    def __init__(self, app: Any, limit: Callable[[str], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, int(declared), limit)
            return
        received, refused, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _refuse(send, None, limit)
                    return {"type": "http.disconnect"}  # the app stops reading here
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer; whatever the app says after is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise


async def _refuse(send: Send, size: int | None, limit: int) -> None:
    said = f"the request body is {size:,} bytes" if size is not None else \
        "the request body is over the limit"
    body = json.dumps({"error": {"message": f"{said}; the limit is {limit:,} bytes",
                                 "type": "invalid_request_error", "param": None,
                                 "code": "request_too_large"}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


STARTING_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>qa is starting</title>
<style>body{font-family:system-ui,sans-serif;max-width:44em;margin:4em auto;padding:0 1em}
pre{white-space:pre-wrap;background:#f4f4f4;padding:1em;border-radius:8px}</style></head>
<body><h1>qa is starting</h1><p>Waiting <span id="elapsed">{elapsed}</span> s so far.
The first start prepares the embedding model once (an int8 ONNX export, 10 s to a minute
on 2 cores) and indexes the demo article; later starts take seconds.
This page opens the chat by itself when it is ready.</p><pre id="log">{log}</pre>
<script>
async function poll() {
  try {
    const r = await fetch(location.href, {cache: "no-store"});
    if (!r.headers.get("x-qa-starting")) { location.reload(); return; }
    const page = new DOMParser().parseFromString(await r.text(), "text/html");
    for (const id of ["elapsed", "log"])
      document.getElementById(id).textContent = page.getElementById(id).textContent;
  } catch (e) {}  // between the two servers: try again
  setTimeout(poll, 1500);
}
setTimeout(poll, 1500);
</script></body></html>"""


@contextlib.contextmanager
def starting(host: str, port: int, private: bool = False) -> Iterator[None]:
    """Serve a page that says what start-up is doing, until the block ends.

    `private` (a key or a login is set): the page says only that qa is
    starting; qa's log lines (paths, model names) are for the terminal.

    The first start's model export and demo index take up to a minute or
    two; the browser shows the stages (qa's log lines) as they happen, then
    opens the chat. `/v1` answers 503 with Retry-After meanwhile. The port is
    taken here, so a busy port fails at once, not after the wait.

    Raises:
        QAError: the port cannot be taken.
    """
    import html
    import http.server
    import socket
    import threading
    import time

    began = time.monotonic()
    lines: list[str] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.startswith("/v1") or self.path == "/healthz":
                body = json.dumps({"error": {
                    "message": "qa is starting (preparing the model or the demo index); "
                               "try again in a few seconds", "type": "server_error",
                    "param": None, "code": "starting"}}).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", "5")
            else:
                body = STARTING_PAGE.replace("{elapsed}", f"{time.monotonic() - began:.0f}") \
                    .replace("{log}", "starting…" if private else
                             html.escape("\n".join(lines) or "loading…")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("X-QA-Starting", "1")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the terminal has qa's own lines

    class Server(http.server.ThreadingHTTPServer):
        # "::1" and other IPv6 hosts need their own address family
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    try:
        server = Server((host.strip("[]"), port), Page)
    except OSError as exc:
        hint = (f"; is the chat or another qa server running there? pass another port with "
                f"--port {port + 1} (or QA_PORT)") if exc.errno == errno.EADDRINUSE else ""
        raise QAError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    handler = Lines(logging.INFO)
    log = logging.getLogger("qa")
    log.addHandler(handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        log.removeHandler(handler)
        server.shutdown()
        server.server_close()


def run(app: Any, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve until interrupted."""
    import uvicorn

    print(f"qa: serving on http://{host}:{port}/ (API under /v1, docs at /docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
