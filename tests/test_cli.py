import json
import os
import subprocess
import sys

from conftest import DEV_SET


def qa(*args, env=None):
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_ask_json_from_a_copied_index(bot):
    out = qa("ask", "What did Botsan-Kharchenko warn?", "--index-dir", str(bot.index_dir), "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["found"] and "humanitarian catastrophe" in answer["answer"]
    source = answer["sources"][0]
    assert set(source) == {"source", "text", "start", "end", "page", "score"}


def test_index_json_summary_and_errors(tmp_path):
    (tmp_path / "a.txt").write_text("The owl hunts at night.")
    (tmp_path / "bad.exe").write_bytes(b"MZ")
    out = qa("index", str(tmp_path / "a.txt"), str(tmp_path / "bad.exe"),
             "--index-dir", str(tmp_path / "ix"), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary == {"added": 1, "updated": 0, "removed": 0, "unchanged": 0, "chunks": 1}
    assert "bad.exe: unsupported file type" in out.stderr and "Traceback" not in out.stderr


def test_errors_are_one_line_without_traceback(tmp_path):
    out = qa("ask", "anything?", "--index-dir", str(tmp_path / "none"))
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "qa index" in out.stderr
    out = qa("ask", "   ", "--index-dir", str(tmp_path / "none"))
    assert out.returncode == 1 and "Traceback" not in out.stderr


def test_eval_prints_metrics(bot):
    out = qa("eval", str(DEV_SET), "--index-dir", str(bot.index_dir), "--json")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert metrics["questions"] == 16 and metrics["abstention_accuracy"] == 1.0
    assert metrics["answer_accuracy"] >= 0.9 and metrics["latency_p50_ms"] > 0
