"""Start-up says what it is doing: the first start's page and 503s, then the chat."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_browser import free_port

from qa.errors import QAError
from qa.server import starting

ROOT = Path(__file__).resolve().parent.parent


def test_the_page_shows_qas_log_lines_and_the_api_says_503_until_ready():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with starting("127.0.0.1", port):
        logging.getLogger("qa.embeddings").warning("first start: preparing the model")
        page = httpx.get(url + "/")
        assert page.status_code == 200 and page.headers["x-qa-starting"] == "1"
        assert "first start: preparing the model" in page.text
        api = httpx.post(url + "/v1/ask", json={"question": "Who?"})
        assert api.status_code == 503 and api.headers["retry-after"] == "5"
        assert api.json()["error"]["code"] == "starting"
        with pytest.raises(QAError, match=f"cannot listen on 127.0.0.1:{port}") as busy:
            with starting("127.0.0.1", port):  # a busy port fails at once
                pass
        # issue 37 item 8: and says which option takes another port
        assert f"--port {port + 1}" in str(busy.value) and "\n" not in str(busy.value)
    with socket.socket() as sock:  # the port is free again for the real server
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_app_first_start_shows_its_stages_then_the_chat(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port),
                             "--index-dir", str(tmp_path / "new-index")],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1",
                                 "GRADIO_ANALYTICS_ENABLED": "False"})
    seen: list[str] = []
    refused_api = False
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            try:
                page = httpx.get(url + "/", timeout=5)
            except httpx.HTTPError:
                time.sleep(0.02)
                continue
            if page.headers.get("x-qa-starting") != "1":
                break  # the chat itself
            seen.append(page.text)
            refused_api = refused_api or httpx.post(
                url + "/v1/ask", json={"question": "Who?"}, timeout=5).status_code == 503
        assert proc.poll() is None, (tmp_path / "app.log").read_text()
        assert any("indexing the bundled demo article" in text for text in seen), seen[-1:]
        assert refused_api
        assert "gradio" in page.text.lower()
        answer = httpx.post(url + "/v1/ask", json={"question": "What did Botsan-Kharchenko "
                                                               "warn?"}, timeout=60)
        assert answer.status_code == 200 and answer.json()["found"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_a_protected_servers_start_page_says_only_that_it_is_starting():
    port = free_port()
    with starting("127.0.0.1", port, private=True):
        logging.getLogger("qa.embeddings").warning("exporting /root/.cache/qa/onnx/model")
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "qa is starting" in page.text
        assert "/root/.cache" not in page.text and "exporting" not in page.text


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_the_start_page_listens_on_ipv6():
    port = free_port()
    try:
        with starting("::1", port):
            page = httpx.get(f"http://[::1]:{port}/")
            assert page.status_code == 200 and page.headers["x-qa-starting"] == "1"
    except QAError as exc:
        if "Cannot assign requested address" in str(exc) or "not available" in str(exc):
            pytest.skip("IPv6 loopback is not configured here")
        raise
