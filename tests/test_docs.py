"""The front page and the documentation site (issue 29): the README is short
and opens with its two commands; the MkDocs site builds with --strict, so a
broken link, a missing page or a docstring reference that no longer exists
fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_is_a_front_page_opening_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip().endswith(".venv/bin/python app.py")
    assert blocks[1].strip().endswith(".venv/bin/python -m pytest")
    assert text.index(blocks[0]) < text.index("## ")  # before any section
    for link in re.findall(r"\]\((docs/[^)#]+)", text):  # every page it links exists
        assert (ROOT / link).exists(), link


def test_the_documentation_site_builds_strictly(tmp_path):
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in ("install", "python", "cli", "http-api", "documents", "languages",
                 "language-models", "milvus", "configuration", "security", "benchmarks",
                 "troubleshooting", "reference", "whole-documents"):
        assert f"{page}.md" in config, page
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                          "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    reference = (tmp_path / "site" / "reference" / "index.html").read_text(encoding="utf-8")
    assert "digest" in reference and "Answer a question from the indexed documents" in reference


def test_the_benchmark_page_is_written_by_the_benchmark_scripts():
    """docs/benchmarks.md is benchmarks/page.md with each `<!-- table: NAME -->`
    replaced by the table a script recorded (benchmarks/results/NAME.json):
    a hand edit of the page, or a recorded run not yet written to it, fails."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import page

    written = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert written == page.build(), "run: python benchmarks/page.py"
    template = page.TEMPLATE.read_text(encoding="utf-8")
    names = re.findall(r"^<!-- table: ([\w-]+) -->$", template, re.M)
    assert len(names) >= 5
    recorded = sorted(p.stem for p in (ROOT / "benchmarks" / "results").glob("*.json"))
    assert sorted(set(names)) == recorded  # every recorded table is on the page


def test_the_configuration_page_explains_every_setting():
    """Issue 37 item 8: every Settings field is on the configuration page with
    its default, meaning, unit and range, and trade-off (no bare defaults)."""
    from dataclasses import fields

    from qa.config import Settings

    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `QA_(\w+)` \|.*$", page, re.M)}
    assert set(rows) == {f.name.upper() for f in fields(Settings)}
    for name, row in rows.items():
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 5 and all(cells[:4]), (name, cells)  # meaning, unit: never blank
    assert "anchors: warn" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
