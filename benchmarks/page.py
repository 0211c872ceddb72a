"""Write docs/benchmarks.md from benchmarks/page.md and the recorded tables.

    python benchmarks/page.py            # after benchmark scripts ran with --record

In page.md, a line `<!-- table: NAME -->` becomes the table recorded in
benchmarks/results/NAME.json, with its date and command. tests/test_docs.py
fails when docs/benchmarks.md differs from what this writes, so the page is
never edited by hand.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import load, render  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "benchmarks" / "page.md"
PAGE = ROOT / "docs" / "benchmarks.md"
HEADER = ("<!-- written by benchmarks/page.py from benchmarks/page.md and "
          "benchmarks/results/*.json; edit those, not this file -->\n\n")


def build() -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    return HEADER + re.sub(r"^<!-- table: ([\w-]+) -->$", lambda m: render(load(m.group(1))),
                           text, flags=re.M)


if __name__ == "__main__":
    PAGE.write_text(build(), encoding="utf-8")
    print(f"wrote {PAGE}")
