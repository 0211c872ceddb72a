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
QUESTION = "What did Botsan-Kharchenko warn?"


@contextlib.contextmanager
def serve(index: Path, workdir: Path, *extra: str):
    port = free_port()
    log = open(workdir / f"serve-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--no-ui", "--port",
                             str(port), "--index-dir", str(index), *extra], cwd=workdir,
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
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
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def server(bundled_index, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("api")
    index = workdir / "index"
    shutil.copytree(bundled_index, index)
    collections = workdir / "collections"
    (collections / "notes").mkdir(parents=True)
    (workdir / "garden.txt").write_text("The greenhouse key hangs behind the blue door.")
    from qa import Assistant

    Assistant.from_paths([workdir / "garden.txt"], collections / "notes")
    with serve(index, workdir, "--api-key", KEY, "--collections-dir", str(collections)) as url:
        yield url, workdir


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
        missing = http.post("/v1/ask", json={"question": QUESTION, "sources": ["nope.txt"]})
        assert missing.status_code == 400 and "not in the index" in \
            missing.json()["error"]["message"]


def test_upload_list_delete_round_trip(server):
    url, workdir = server
    note = workdir / "ferry notes.txt"
    note.write_text("The night ferry to Kelby leaves at nine.")
    with client(url) as http:
        added = http.post("/v1/documents", files=[("files", (note.name, note.read_bytes()))])
        assert added.status_code == 200 and added.json()["added"] == 1
        names = [d["source"] for d in http.get("/v1/documents").json()]
        assert "ferry_notes.txt" in names
        assert "nine" in http.post("/v1/ask", json={
            "question": "When does the night ferry to Kelby leave?"}).json()["answer"]
        bad = http.post("/v1/documents", files=[("files", ("tool.exe", b"MZ"))])
        assert bad.status_code == 400 and "unsupported file type" in bad.json()["error"]["message"]
        gone = http.delete("/v1/documents/ferry_notes.txt")
        assert gone.status_code == 200 and gone.json()["removed"] == 1
        assert "ferry_notes.txt" not in [d["source"] for d in http.get("/v1/documents").json()]
        assert not (workdir / "uploads" / "ferry_notes.txt").exists()
        assert http.delete("/v1/documents/ferry_notes.txt").status_code == 404


@pytest.mark.parametrize("key", ["wrong", "", None])
def test_a_wrong_missing_or_empty_key_gets_401(server, key):
    url, _ = server
    with client(url, key) as http:
        for response in (http.post("/v1/ask", json={"question": QUESTION}),
                         http.get("/v1/models"), http.get("/v1/documents")):
            assert response.status_code == 401
            assert response.json()["error"]["type"] == "authentication_error"
    assert httpx.get(url + "/healthz").status_code == 200  # health needs no key


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
    paths = httpx.get(url + "/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/chat/completions", "/v1/documents", "/v1/models",
            "/healthz"} <= set(paths)
