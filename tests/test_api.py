"""The HTTP API through a real server (`qa serve --no-ui`) on a free local port."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_browser import free_port

KEY = "test-key-123"
LOGIN = ("ana", "s3cret")
QUESTION = "What did Botsan-Kharchenko warn?"


class Served(tuple):
    """(url, workdir) as the tests unpack it, plus the server's process id."""

    pid: int


class URL(str):
    """The server's base URL, with its process id."""

    pid: int


@contextlib.contextmanager
def serve(index: Path, workdir: Path, *extra: str, ui: bool = False):
    port = free_port()
    log = open(workdir / f"serve-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port),
                             "--index-dir", str(index), *extra, *([] if ui else ["--no-ui"])],
                            cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1",
                                 "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                httpx.get(url + "/healthz", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail("qa serve did not start: " +
                                (workdir / f"serve-{port}.log").read_text()[-2000:])
                time.sleep(0.3)
        address = URL(url)
        address.pid = proc.pid
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def server(bundled_index, tmp_path_factory):
    """The API with a key, and the chat with a login, as a careful user serves them."""
    workdir = tmp_path_factory.mktemp("api")
    index = workdir / "index"
    shutil.copytree(bundled_index, index)
    collections = workdir / "collections"
    (collections / "notes").mkdir(parents=True)
    (workdir / "garden.txt").write_text("The greenhouse key hangs behind the blue door.")
    from qa import Assistant

    Assistant.from_paths([workdir / "garden.txt"], collections / "notes")
    with serve(index, workdir, "--api-key", KEY, "--auth", ":".join(LOGIN),
               "--collections-dir", str(collections), ui=True) as url:
        served = Served((url, workdir))
        served.pid = url.pid
        yield served


def client(url: str, key: str | None = KEY) -> httpx.Client:
    # An empty key is sent as a bare "Bearer" (httpx refuses a trailing space).
    headers = {"Authorization": f"Bearer {key}".strip()} if key is not None else {}
    return httpx.Client(base_url=url, headers=headers, timeout=60)


def test_openai_client_with_and_without_streaming(server):
    from openai import OpenAI

    url, _ = server
    ai = OpenAI(base_url=f"{url}/v1", api_key=KEY)
    done = ai.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
    text = done.choices[0].message.content
    assert "humanitarian catastrophe" in text and text.endswith("[1]")
    sources = done.model_extra["qa_sources"]
    assert sources[0]["source"] == "russia-warns-kosovo.txt"
    assert sources[0]["text"] in text
    pieces, last = [], None
    for chunk in ai.chat.completions.create(model="qa", stream=True,
                                            messages=[{"role": "user", "content": QUESTION}]):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    assert "".join(pieces) == text and len(pieces) > 1
    assert last.model_extra["qa_sources"] == sources
    assert [m.id for m in ai.models.list()] == ["qa", "qa/notes"]


def test_history_and_collections_through_openai(server):
    from openai import OpenAI

    url, _ = server
    ai = OpenAI(base_url=f"{url}/v1", api_key=KEY)
    first = "Who has administered Kosovo since 1999?"
    reply = ai.chat.completions.create(model="qa", messages=[{"role": "user", "content": first}])
    follow = ai.chat.completions.create(model="qa", messages=[
        {"role": "user", "content": first},
        {"role": "assistant", "content": reply.choices[0].message.content},
        {"role": "user", "content": "Why?"}])
    assert "halt killings" in follow.choices[0].message.content
    notes = ai.chat.completions.create(model="qa/notes", messages=[
        {"role": "user", "content": "Where does the greenhouse key hang?"}])
    assert "blue door" in notes.choices[0].message.content


def test_langchain_chat_openai_works_too(server):
    from langchain_openai import ChatOpenAI

    url, _ = server
    chat = ChatOpenAI(model="qa", base_url=f"{url}/v1", api_key=KEY)
    assert "humanitarian catastrophe" in chat.invoke(QUESTION).content


def test_ask_endpoint_and_sources_filter(server):
    url, _ = server
    with client(url) as http:
        answer = http.post("/v1/ask", json={"question": QUESTION}).json()
        assert answer["found"] and answer["mode"] == "extractive"
        who = http.post("/v1/ask", json={"question": "Who is Russia's Kosovo negotiator?"})
        assert who.json()["span"]["text"] == "Alexander Botsan-Kharchenko"
        missing = http.post("/v1/ask", json={"question": QUESTION, "sources": ["nope.txt"]})
        assert missing.status_code == 400 and "not in the index" in \
            missing.json()["error"]["message"]


def test_a_pdf_page_comes_back_as_png_with_the_passage_marked(server):
    from conftest import make_pdf
    from test_pages import marked

    url, workdir = server
    with client(url) as http:
        pdf = make_pdf([["Cover"], ["The ferry Astra sank off Kelby in 1923, in a gale."]])
        assert http.post("/v1/documents", files=[("files", ("astra.pdf", pdf))]).json()["added"]
        answer = http.post("/v1/ask", json={"question": "When did the ferry Astra sink?",
                                            "sources": ["astra.pdf"]}).json()
        source = answer["sources"][0]
        assert source["page"] == 2
        page = http.get("/v1/documents/astra.pdf/pages/2.png",
                        params={"highlight": f"{source['start']}-{source['end']}"})
        assert page.status_code == 200 and page.headers["content-type"] == "image/png"
        assert marked(page.content)
        plain = http.get("/v1/documents/astra.pdf/pages/2.png")
        assert plain.status_code == 200 and not marked(plain.content)
        assert http.get("/v1/documents/astra.pdf/pages/9.png").status_code == 404
        assert http.get("/v1/documents/nope.pdf/pages/1.png").status_code == 404
        bad = http.get("/v1/documents/astra.pdf/pages/2.png", params={"highlight": "x"})
        assert bad.status_code == 400 and "START-END" in bad.json()["error"]["message"]
        text = http.get("/v1/documents/russia-warns-kosovo.txt/pages/1.png")
        assert text.status_code == 400 and "PDF" in text.json()["error"]["message"]
        assert http.delete("/v1/documents/astra.pdf").status_code == 200


def test_upload_list_delete_round_trip(server):
    url, workdir = server
    note = workdir / "ferry notes.txt"
    note.write_text("The night ferry to Kelby leaves at nine.")
    with client(url) as http:
        added = http.post("/v1/documents", files=[("files", (note.name, note.read_bytes()))])
        assert added.status_code == 200 and added.json()["added"] == 1
        listed = http.get("/v1/documents").json()
        assert "ferry_notes.txt" in [d["source"] for d in listed]
        assert not any(str(workdir) in d["path"] or d["path"].startswith("/") for d in listed)
        assert "nine" in http.post("/v1/ask", json={
            "question": "When does the night ferry to Kelby leave?"}).json()["answer"]
        bad = http.post("/v1/documents", files=[("files", ("tool.exe", b"MZ"))])
        assert bad.status_code == 400 and "unsupported file type" in bad.json()["error"]["message"]
        gone = http.delete("/v1/documents/ferry_notes.txt")
        assert gone.status_code == 200 and gone.json()["removed"] == 1
        assert "ferry_notes.txt" not in [d["source"] for d in http.get("/v1/documents").json()]
        assert not (workdir / "uploads" / "ferry_notes.txt").exists()
        assert http.delete("/v1/documents/ferry_notes.txt").status_code == 404


def test_remove_deletes_only_the_apps_own_copy_once_no_index_holds_it(server):
    """A user's own folder named uploads/ beside the index, and a file uploaded
    to the default index that a collection also indexed: removing never costs
    the user a file, nor another index its only copy."""
    url, workdir = server
    from qa import Assistant

    mine = workdir / "uploads" / "diary.txt"
    mine.parent.mkdir(exist_ok=True)
    mine.write_text("On Tuesday the lighthouse keeper painted the railings green.")
    Assistant.from_paths([mine], workdir / "index")  # qa index uploads/diary.txt
    with client(url) as http:
        assert http.delete("/v1/documents/diary.txt").status_code == 200
        assert mine.exists()  # the user's own file: never deleted
        note = b"The spare ferry tickets are kept in the red tin."
        added = http.post("/v1/documents", files=[("files", ("tickets.txt", note))])
        assert added.status_code == 200
        stored = workdir / "uploads" / "tickets.txt"
        assert stored.read_bytes() == note
        Assistant.from_paths([stored], workdir / "collections" / "notes")  # qa index ... -d
        gone = http.delete("/v1/documents/tickets.txt", params={"collection": "notes"})
        assert gone.status_code == 200 and stored.exists()  # the default index still holds it
        assert "red tin" in http.post("/v1/ask", json={
            "question": "Where are the spare ferry tickets kept?"}).json()["answer"]
        assert http.delete("/v1/documents/tickets.txt").status_code == 200
        assert not stored.exists()  # ours, and no index holds it any more
        # The other order: removed from the default index while a collection
        # still holds the file, which the record of uploads does not know.
        memo = b"The harbour master's office moved to the old customs house."
        assert http.post("/v1/documents", files=[("files", ("memo.txt", memo))]).is_success
        kept = workdir / "uploads" / "memo.txt"
        Assistant.from_paths([kept], workdir / "collections" / "harbour")
        assert http.delete("/v1/documents/memo.txt").status_code == 200
        assert kept.read_bytes() == memo  # the collection's only copy stays
        assert "customs house" in http.post("/v1/ask", json={
            "question": "Where did the harbour master's office move?",
            "collection": "harbour"}).json()["answer"]
        # A name taken by a file the app did not store gets another name.
        clash = http.post("/v1/documents", files=[("files", ("diary.txt", b"Rain all day."))])
        assert clash.status_code == 200
        assert mine.read_text().startswith("On Tuesday")
        assert http.delete("/v1/documents/" + next(
            d["source"] for d in http.get("/v1/documents").json()
            if d["source"].startswith("diary-"))).status_code == 200
        assert mine.exists()


# Every route that reads or changes documents, the API's and the chat's own
# (Gradio's) alike: (method, path, JSON body or None).
API_ROUTES = [
    ("POST", "/v1/ask", {"question": QUESTION}),
    ("POST", "/v1/chat/completions", {"model": "qa", "messages": [
        {"role": "user", "content": QUESTION}]}),
    ("GET", "/v1/models", None),
    ("GET", "/v1/documents", None),
    ("POST", "/v1/documents", None),
    ("DELETE", "/v1/documents/russia-warns-kosovo.txt", None),
    ("GET", "/v1/documents/russia-warns-kosovo.txt/pages/1.png", None),
]
CHAT_ROUTES = [
    ("POST", "/gradio_api/call/ask", {"data": [QUESTION, None]}),
    ("POST", "/gradio_api/call/chat", {"data": [QUESTION, [], None, None]}),
    ("POST", "/gradio_api/upload", None),
    ("POST", "/gradio_api/call/upload", {"data": [None]}),
    ("POST", "/gradio_api/call/remove", {"data": ["russia-warns-kosovo.txt"]}),
    ("POST", "/gradio_api/queue/join", {"data": [QUESTION, None], "fn_index": 0,
                                        "session_hash": "x"}),
    ("GET", "/gradio_api/file=index/documents.jsonl", None),
    ("GET", "/gradio_api/info", None),
    ("GET", "/config", None),
]


def call(http: httpx.Client, method: str, path: str, body) -> httpx.Response:
    if path == "/v1/documents" and method == "POST" or path.endswith("/upload"):
        return http.request(method, path, files=[("files", ("x.txt", b"Intruders wrote this."))])
    return http.request(method, path, json=body)


@pytest.mark.parametrize("key", ["wrong", "", None])
@pytest.mark.parametrize("method,path,body", API_ROUTES)
def test_a_wrong_missing_or_empty_key_gets_401_on_every_api_route(server, key, method, path,
                                                                  body):
    url, _ = server
    with client(url, key) as http:
        response = call(http, method, path, body)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "authentication_error"
    assert httpx.get(url + "/healthz").status_code == 200  # health needs no key


@pytest.mark.parametrize("method,path,body", CHAT_ROUTES)
def test_the_chat_and_its_gradio_api_refuse_a_stranger(server, method, path, body):
    url, _ = server
    with client(url, None) as http:
        assert call(http, method, path, body).status_code == 401
    with client(url, KEY) as http:  # the API key is not the chat's login
        assert call(http, method, path, body).status_code == 401


def test_the_login_opens_the_chat_and_the_api(server):
    """The 401s above are refusals, not missing routes: with the login they answer."""
    url, _ = server
    with httpx.Client(base_url=url, timeout=60) as http:
        assert http.post("/login", data={"username": LOGIN[0], "password": LOGIN[1]}).is_success
        event = http.post("/gradio_api/call/ask", json={"data": [QUESTION, None]})
        assert event.status_code == 200
        result = http.get(f"/gradio_api/call/ask/{event.json()['event_id']}").text
        assert "humanitarian catastrophe" in result
    with httpx.Client(base_url=url, auth=LOGIN, timeout=60) as basic:
        assert basic.post("/v1/ask", json={"question": QUESTION}).json()["found"]


def test_a_key_without_a_login_is_refused_with_the_chat_on(tmp_path):
    out = subprocess.run([sys.executable, "-m", "qa.cli", "serve", "--api-key", KEY,
                          "--index-dir", str(tmp_path / "none")], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "QA_AUTH": ""})
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "--auth" in out.stderr and "--no-ui" in out.stderr


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmRSS"))) * 1024


def _chunked(total: int, head: bytes = b"", piece: bytes = b" " * 65536):
    yield head
    sent = len(head)
    while sent < total:
        yield piece
        sent += len(piece)


@pytest.mark.parametrize("path,size,head", [
    ("/v1/ask", 40_000_000, b'{"question": "What did Botsan-Kharchenko warn?", "history": ['),
    ("/v1/chat/completions", 40_000_000, b'{"model": "qa", "messages": ['),
    ("/v1/documents", 80_000_000, b"--b\r\nContent-Disposition: form-data; name=\"files\"; "
                                  b"filename=\"big.txt\"\r\n\r\n"),
])
def test_chunked_bodies_stop_at_the_limit(server, path, size, head):
    """No Content-Length: the server counts bytes as they come and answers 413
    at the limit, without reading (or keeping) the rest."""
    url, _ = server
    before = _rss(server.pid)
    kind = "multipart/form-data; boundary=b" if path == "/v1/documents" else "application/json"
    try:
        response = httpx.post(url + path, content=_chunked(size, head), timeout=60,
                              headers={"Authorization": f"Bearer {KEY}", "content-type": kind})
        assert response.status_code == 413, response.text
        assert "limit" in response.json()["error"]["message"]
    except (httpx.WriteError, httpx.RemoteProtocolError):
        pass  # the server closed the connection mid-body: it did not read on
    assert _rss(server.pid) - before < 60_000_000
    assert httpx.get(url + "/healthz").status_code == 200


def test_bad_requests_get_4xx_json_errors(server):
    url, _ = server
    with client(url) as http:
        cases = [
            http.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"}),
            http.post("/v1/ask", content=b'{"question": "' + b"x" * 1_100_000 + b'"}',
                      headers={"content-type": "application/json"}),
            http.post("/v1/ask", json={"question": QUESTION, "collection": "nope"}),
            http.post("/v1/ask", json={"question": "   "}),
            http.post("/v1/chat/completions", json={"model": "qa", "messages": []}),
        ]
    assert [r.status_code for r in cases] == [400, 413, 404, 400, 400]
    for response in cases:
        error = response.json()["error"]
        assert error["message"] and error["type"] and "Traceback" not in response.text
    assert "not valid JSON" in cases[0].json()["error"]["message"]
    assert "empty" in cases[3].json()["error"]["message"]


def test_openapi_lists_the_routes(server):
    url, _ = server
    with client(url) as http:
        paths = http.get("/openapi.json").json()["paths"]
        assert http.get("/docs").status_code == 200
        assert http.get("/healthz").json()["documents"] >= 1
    assert {"/v1/ask", "/v1/chat/completions", "/v1/documents", "/v1/models",
            "/healthz"} <= set(paths)


def test_a_stranger_learns_only_that_the_server_is_up(server):
    """With a key set, the schema, the docs and the index's size need it too."""
    url, _ = server
    with client(url, None) as http:
        assert http.get("/openapi.json").status_code == 401
        assert http.get("/docs").status_code == 401
        assert http.get("/healthz").json() == {"status": "ok"}


def test_every_document_has_an_id_that_reaches_it(tmp_path, settings, embedder):
    """Two files named minutes.txt: listed with distinct ids, each shown and
    removed by its id."""
    from fastapi.testclient import TestClient

    from qa import Assistant
    from qa.api import Collections, create_api

    for year, city in (("2025", "Oslo"), ("2026", "Lisbon")):
        text = (f"Minutes of the {year} meeting. The members chose {city} as the city for "
                f"the summer retreat. The treasurer presented the budget, which was approved.")
        (tmp_path / year).mkdir()
        (tmp_path / year / "minutes.txt").write_text(text)
    bot = Assistant.from_paths([tmp_path / "2025", tmp_path / "2026"], tmp_path / "index",
                               settings, embedder)
    http = TestClient(create_api(Collections(bot)))
    listed = http.get("/v1/documents").json()
    # Issue 37 item 9: paths relative to the indexed folder, never the server's own.
    assert sorted(d["path"] for d in listed) == ["2025/minutes.txt", "2026/minutes.txt"]
    ids = {Path(d["path"]).parent.name: d["id"] for d in listed}
    assert len(set(ids.values())) == 2
    one = http.get(f"/v1/documents/{ids['2026']}").json()
    assert one["path"] == "2026/minutes.txt" and one["chunks"] >= 1
    assert http.get("/v1/documents/minutes.txt").status_code == 400  # ambiguous
    assert http.get("/v1/documents/nothing.txt").status_code == 404
    assert http.delete("/v1/documents/minutes.txt").status_code == 400  # ambiguous
    asked = http.post("/v1/ask", json={"question": "Which city did the members choose for the summer retreat?",
                                       "sources": [ids["2026"]]}).json()
    assert "Lisbon" in asked["answer"]
    assert http.delete(f"/v1/documents/{ids['2025']}").status_code == 200
    left = http.get("/v1/documents").json()
    assert [d["id"] for d in left] == [ids["2026"]] and left[0]["path"] == "minutes.txt"


@pytest.mark.parametrize("request_", [
    ("post", "/v1/ask", {"json": {"question": "Who warned?", "sources": ["a\x00b.pdf"]}}),
    ("post", "/v1/ask", {"json": {"question": "Who warned?", "sources": ["~nosuchuser/a.pdf"]}}),
    ("delete", "/v1/documents/a%00b.txt", {}),
    ("delete", "/v1/documents/~nosuchuser", {}),
    ("get", "/v1/documents/a.pdf/pages/1.png?highlight=" + "9" * 4400 + "-1", {}),
    ("get", "/v1/documents/a%00.pdf/pages/1.png", {}),
])
def test_odd_client_input_gets_a_4xx(bot, request_):
    from fastapi.testclient import TestClient

    from qa.api import Collections, create_api

    method, path, options = request_
    response = getattr(TestClient(create_api(Collections(bot))), method)(path, **options)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["message"]
