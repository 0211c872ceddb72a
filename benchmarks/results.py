"""Benchmark tables, printed and recorded: a script builds a `Table`, prints
it as Markdown, and with `--record` saves it to benchmarks/results/NAME.json
with the date, the machine and the command that produced it.
`benchmarks/page.py` writes docs/benchmarks.md from those files, so every
table on the benchmark page comes from a run, not from hand.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Table:
    """A table of results: `columns` names, rows of cells (numbers or text)."""

    name: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append(list(cells))
        print(markdown_row(self.rows[-1]) if len(self.rows) > 1 else
              f"{markdown_row(self.columns)}\n{markdown_row(['---'] * len(self.columns))}\n"
              f"{markdown_row(self.rows[-1])}", flush=True)

    def save(self, command: list[str] | None = None) -> Path:
        """Write benchmarks/results/NAME.json (the command as run, with paths
        outside the project shown as their last two parts)."""
        argv = command if command is not None else ["python", *sys.argv]
        # the settings that shaped the run (QA_ANSWER_MODEL=1, QA_MODEL=...)
        argv = [f"{k}={v}" for k, v in sorted(os.environ.items())
                if k.startswith("QA_") and k != "QA_INDEX_DIR"] + argv
        record = {"name": self.name, "date": time.strftime("%Y-%m-%d"),
                  "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
                  "command": " ".join(a if "=" in a.split("/")[0] and not a.startswith("-")
                                      else shlex.quote(_shown(a)) for a in argv),
                  "columns": self.columns, "rows": self.rows, "notes": self.notes}
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path


def _shown(arg: str) -> str:
    """A path argument as a reader can use it: relative to the project, or
    PATH/<last two parts> for data outside it (the shared benchmark sets)."""
    root = RESULTS.parent.parent
    if os.sep not in arg or arg.startswith("-"):
        return arg
    path = Path(arg).resolve()
    try:
        return str(path.relative_to(root))
    except ValueError:
        return "PATH/" + "/".join(path.parts[-2:])


def cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown_row(cells: list[object]) -> str:
    return "| " + " | ".join(cell(c) if c != "---" else "---" for c in cells) + " |"


def render(record: dict) -> str:
    """A recorded table as Markdown, with where it came from."""
    lines = [markdown_row(record["columns"]), markdown_row(["---"] * len(record["columns"]))]
    lines += [markdown_row(row) for row in record["rows"]]
    lines.append("")
    lines.append(f"Measured {record['date']} ({record['machine']}) with "
                 f"`{record['command']}`.")
    lines += [f"{note}" for note in record.get("notes", [])]
    return "\n".join(lines)


def load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))
