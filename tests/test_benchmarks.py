"""Smoke runs of the benchmarks: they work end to end. No timing assertions."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def tiny_squad(tmp_path: Path) -> Path:
    text = ("Russia warned the United States and European Union on Monday. "
            "Serb refugees would flow into northern Kosovo and Serbia. "
            "Kosovo has been administered by the United Nations since 1999.")
    data = {"version": "1.1", "data": [{"title": f"Doc {i}", "paragraphs": [{
        "context": text, "qas": [
            {"id": f"{i}a", "question": "Where would Serb refugees flow?",
             "answers": [{"text": "northern Kosovo and Serbia", "answer_start": 0}]},
            {"id": f"{i}b", "question": "Who has administered Kosovo since 1999?",
             "answers": [{"text": "United Nations", "answer_start": 0}]}]}]} for i in range(2)]}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return path


def test_compare_smoke(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/compare.py"),
                          str(tiny_squad(tmp_path)), "--smoke"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    table = out.stdout
    for row in ("indexing, chars/s", "query p50, ms", "cold start to first answer, s",
                "peak RSS, MB", "answer accuracy"):
        assert row in table
    assert "| LangChain baseline | qa (torch) | qa (onnx) |" in table
    accuracy = table.split("answer accuracy (qa eval rule) |")[1].split("|")
    assert float(accuracy[2].split()[0]) == 1.0  # qa (onnx) answers both questions


def test_large_index_smoke():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/large_index.py"), "--smoke"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    row = out.stdout.strip().splitlines()[-1].split("|")
    assert "IndexHNSWSQ" in row[2] and float(row[8]) >= 0.9


def test_ask_latency_smoke():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/ask_latency.py"),
                          "--rounds", "1"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    row = out.stdout.strip().splitlines()[-1].split("|")  # answer model, p50, p95, bare, ratio
    assert row[1].strip() in ("on", "off") and 0 < float(row[2]) <= float(row[3])


def test_api_benchmark_smoke():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/api.py"), "--rounds", "1",
                          "--clients", "2", "--questions", "2"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["overhead"]["v1_ask_p50_ms"] > 0
    assert result["load"]["/v1/chat/completions"]["answers"] == 4


def test_verification_benchmark_smoke(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/verification.py"),
                          str(tiny_squad(tmp_path)), "--limit", "4"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    fake = json.loads(out.stdout.strip().splitlines()[-1])
    assert fake["invented_marked_unsupported"] == 1.0 and fake["copied_marked_supported"] >= 0.95


def test_stores_smoke(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/stores.py"),
                          str(tiny_squad(tmp_path)), "--smoke"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line.split("|") for line in out.stdout.splitlines() if line.startswith("| ")]
    assert [r[1].strip() for r in rows[1:]] == ["faiss", "milvus-lite"]
    assert all(float(r[3]) == 1.0 for r in rows[1:])  # both answer both questions
    assert "same top sentence: 4/4" in out.stdout


def test_milvus_scale_smoke():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/milvus_scale.py"), "--smoke"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split("|") for line in out.stdout.splitlines() if line.startswith("| 2,000")]
    assert rows and float(rows[-1][3]) > 0  # the last checkpoint holds every chunk
