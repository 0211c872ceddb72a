"""Every command in the README and the documentation runs as written (issue
29), or is listed in NOT_RUN with the reason it cannot run here.

The commands run in document order in one sandbox folder that holds the
files they name (report.pdf, notes/, ~/papers/, ...), with `.venv/bin/qa`,
`qa` and `python` resolving to this interpreter's environment and the
default index in the sandbox (QA_INDEX_DIR). Commands that serve (the chat,
`qa serve`, `--watch`) run until they answer /healthz (or print their
report), then are stopped. The HTTP examples (curl, the openai and
gradio_client snippets) go to a `qa serve` started for them: the only
change made to a command is its port (7860 becomes a free one). Python
blocks run as scripts. A command that is neither run nor listed fails the
test, so a new example in the docs needs one or the other.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import make_pdf

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]

# command (a regular expression matched at its start) -> why it is not run here
NOT_RUN = {
    r"python3 -m venv \.venv && \.venv/bin/pip install -e \. && \.venv/bin/python app\.py":
        "README command 1: a fresh clone's install; tried by hand in a fresh clone before "
        "every stop (the chat it starts is started here by the `.venv/bin/python app.py` "
        "example)",
    r"python3 -m venv \.venv && \.venv/bin/pip install -e \"\.\[test\]\"":
        "README command 2: .ci/run runs exactly this in a fresh clone",
    r"(\.venv/bin/)?pip install":
        "installs packages: .ci/run installs the [test] extra, which holds the packages of "
        "[local], [milvus] and [docs]; langchain-ollama ([llm]) needs an Ollama server to use",
    r"\.venv/bin/pip install -e \"\.\[docs\]\" && \.venv/bin/mkdocs serve":
        "serves the site until stopped; test_docs.py builds it with --strict",
    r"qa ask .* --llm ollama:":
        "needs an Ollama server; the same path runs with a local model (--llm smollm2) below",
    r"QA_LLM=openai:my-model QA_LLM_BASE_URL=":
        "needs an OpenAI-compatible server on port 8080; test_local_llm.py runs this path "
        "against SmolLM2 served by xllamacpp",
    r"qa ask .* --llm gguf:/path/":
        "a placeholder path to a GGUF file; the same path runs with the packaged GGUF "
        "(--llm smollm2) below and in test_local_llm.py",
    r"QA_TEST_MILVUS_URI=http://localhost:19530":
        "needs a Milvus 2.5+ server of the reader's own; without the variable the same "
        "module runs on Milvus Lite in every test run",
    r"QA_STORE=milvus://localhost:19530":
        "needs a Milvus server (Docker); the same code runs on Milvus Lite in test_milvus.py "
        "and in the milvus:// examples here",
}
SERVES = re.compile(r"(^|\s)(\S*python\S* app\.py|\S*qa serve)\b|--watch\b")


def commands(page: str) -> list[tuple[str, str]]:
    """(language, command) in page order: each shell line (continuations
    joined, comments dropped), and each Python block whole."""
    text = (ROOT / page).read_text(encoding="utf-8")
    out = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, re.S):
        if lang == "python":
            out.append(("python", body))
        elif lang in ("bash", "sh", "console", ""):
            for line in body.replace("\\\n", " ").splitlines():
                line = re.sub(r"\s+#.*$", "", line).strip()
                if line and not line.startswith("#"):
                    out.append(("bash", line))
    return out


def not_run(command: str) -> str | None:
    return next((why for pattern, why in NOT_RUN.items() if re.match(pattern, command)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def up(port: int, proc: subprocess.Popen, timeout: float = 240) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return True
        except OSError:
            time.sleep(1)
    return False


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A folder with the files the examples name, and an environment in
    which `.venv/bin/qa`, `qa` and `python` are this test run's."""
    box = tmp_path_factory.mktemp("walkthrough")
    # .venv is this test run's virtualenv (CI's is the README's .venv)
    (box / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    bin_dir = box / ".venv" / "bin"
    assert (bin_dir / "qa").exists(), "run the tests from the virtualenv qa is installed in"
    (box / "app.py").symlink_to(ROOT / "app.py")  # the examples run in a checkout
    (box / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    (box / "report.pdf").write_bytes(make_pdf([
        "The supply report was signed by Mara Lind, the harbour director.",
        "The payment for the new cranes is due on 30 June 2026."]))
    notes = box / "notes"
    notes.mkdir()
    (notes / "ferry.txt").write_text("The ferry to Kelby leaves at nine every morning. "
                                     "It was signed off by the harbour board.\n")
    (notes / "old.txt").write_text("An old note about the winter timetable of the ferry.\n")
    (box / "more").mkdir()
    (box / "more" / "cranes.md").write_text("# Cranes\n\nTwo cranes unload a ship a day.\n")
    (box / "my-files").mkdir()
    (box / "my-files" / "insel.txt").write_text(
        "Die Fähre nach Kelby fährt jeden Morgen um neun Uhr ab. Der Hafenmeister heißt "
        "Jonas Albrecht.\n", encoding="utf-8")
    (box / "docs").mkdir()
    (box / "docs" / "guide.md").write_text("# Guide\n\nThe guide explains the harbour.\n")
    papers = box / "home" / "papers"
    papers.mkdir(parents=True)
    (papers / "alexnet.txt").write_text("AlexNet was trained on two GPUs for six days in "
                                        "2012.\n")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    env = {**os.environ, "HOME": str(box / "home"), "XDG_CACHE_HOME": cache, "QA_INDEX_DIR": str(box / "index"),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "KEY": "s3cret",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONPATH": str(ROOT)}
    for name in ("QA_MODEL", "QA_STORE", "QA_LLM", "QA_API_KEY", "QA_AUTH", "QA_PORT"):
        env.pop(name, None)
    # QA_INDEX_DIR names an index that must exist: start both as the default
    # index starts, with the bundled article
    subprocess.run([sys.executable, "-c", "import sys; from qa import Assistant; "
                    "[Assistant.bundled(d) for d in sys.argv[1:]]", str(box / "index"),
                    str(box / "served")], env=env, check=True, timeout=600)
    shutil.copytree(box / "index", box / "demo-index")
    port = free_port()
    # the demo index (the bundled article), which the HTTP examples ask about
    server = subprocess.Popen([str(bin_dir / "qa"), "serve", "--port", str(port)], cwd=box,
                              env={**env, "QA_INDEX_DIR": str(box / "served")},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert up(port, server), server.stderr.read() if server.poll() is not None else "no answer"
    yield box, env, port
    server.send_signal(signal.SIGINT)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
    shutil.rmtree(box / "index", ignore_errors=True)


def run_serving(command: str, box: Path, env: dict, port: int) -> str:
    """Start a command that serves (or watches), wait until it answers, stop it."""
    proc = subprocess.Popen(["bash", "-c", command], cwd=box,
                            env={**env, "QA_PORT": str(port)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        if "--watch" in command:
            lines = []
            for line in proc.stdout:  # type: ignore[union-attr]
                lines.append(line)
                if re.search(r"\d+ added, \d+ updated", line):
                    return ""
            return "".join(lines)[-2000:] or "exited without a report"
        if up(port, proc):
            return ""
        stop(proc, signal.SIGKILL)  # bash may have exited and left the server it started
        return f"never answered /healthz: {proc.stdout.read()[-1500:]}"  # type: ignore[union-attr]
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT, grace: float = 60) -> None:
    """Stop the command's whole process group (what bash started too, which
    outlives bash), killing what is left of it after `grace` seconds."""
    deadline = time.time() + grace
    try:
        os.killpg(proc.pid, sig)
        while time.time() < deadline:
            os.killpg(proc.pid, 0)  # raises once no process of the group is left
            proc.poll()  # reaps bash, so it does not linger as a zombie
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def test_every_command_in_the_readme_and_docs_runs_as_written(sandbox):
    box, env, port = sandbox
    failures, ran, skipped = [], 0, 0
    for page in PAGES:
        # each page is read as if from a fresh start: the default index is the demo
        shutil.rmtree(box / "index")
        shutil.copytree(box / "demo-index", box / "index")
        for lang, command in commands(page):
            if lang == "bash" and not_run(command):
                skipped += 1
                continue
            # the one change: examples that reach the server use the test's port
            command = command.replace("127.0.0.1:7860", f"127.0.0.1:{port}")
            if lang == "python":
                out = subprocess.run([sys.executable, "-c", command], cwd=box, env=env,
                                     capture_output=True, text=True, timeout=600)
                problem = out.stderr[-1500:] if out.returncode else ""
            elif SERVES.search(command):
                problem = run_serving(command, box, env, free_port())
            else:
                out = subprocess.run(["bash", "-c", command], cwd=box, env=env,
                                     capture_output=True, text=True, timeout=600)
                problem = (out.stderr or out.stdout)[-1500:] if out.returncode else ""
                if not problem and command.startswith("curl") and '"found"' not in out.stdout:
                    problem = f"no answer: {out.stdout[-500:]}"
            ran += 1
            if problem:
                failures.append(f"{page}: {command[:200]}\n{problem}")
    assert not failures, "\n\n".join(failures)
    assert ran >= 25 and skipped <= 16, (ran, skipped)  # the extraction found the examples


def test_the_not_run_list_holds_no_stale_entries():
    every = [c for page in PAGES for lang, c in commands(page) if lang == "bash"]
    for pattern in NOT_RUN:
        assert any(re.match(pattern, c) for c in every), f"no command matches {pattern!r}"


def test_a_command_that_never_answers_leaves_nothing_running(tmp_path):
    """Issue 35 item 11: run_serving killed only bash, leaving the server it
    started running."""
    marker = tmp_path / "child.pid"
    failed = run_serving(f"sleep 300 >/dev/null 2>&1 & echo $! > {marker}; sleep 1", tmp_path,
                         dict(os.environ), free_port())
    assert failed.startswith("never answered")
    child = int(marker.read_text())
    for _ in range(50):
        if not Path(f"/proc/{child}").exists() or \
                Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"process {child} that the command started is still running")
