"""A built wheel holds every module of qa and imports on its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_built_wheel_imports_every_module(tmp_path):
    # From a clean copy: an in-tree build/ folder would carry modules over.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "qa", source / "qa",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "LICENSES", source / "LICENSES")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(source)], check=True, timeout=300,
                   capture_output=True)
    wheel = next((tmp_path / "dist").glob("qa-*.whl"))
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                     for p in (ROOT / "qa").rglob("*.py"))
    assert {"qa.answering", "qa.documents", "qa.store"} <= set(modules)
    packaged = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    assert "qa/data/russia-warns-kosovo.txt" in packaged
    assert "qa/answering/rankers/default.json" in packaged
    # issue 35 item 14: the weights' licence is declared and shipped beside MIT
    metadata = next(site.glob("qa-*.dist-info/METADATA")).read_text()
    assert "License-Expression: MIT AND CC-BY-SA-4.0" in metadata
    assert any(p.endswith("licenses/LICENSES/CC-BY-SA-4.0.txt") for p in packaged), packaged
    # The wheel's copy, not the checkout's, answers the imports: run from
    # elsewhere with only the unpacked wheel ahead of the installed dependencies.
    code = ("import importlib, sys, qa\n"
            f"assert qa.__file__.startswith({str(site)!r}), qa.__file__\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "from qa.answering.extractive import Ranker\n"
            "Ranker.for_model('packaged')\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
