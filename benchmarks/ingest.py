"""Large-corpus ingestion: index a folder of mixed text and PDF from empty,
then re-index it with 1% of the files changed.

    python benchmarks/ingest.py PATH/shared/benchmarks [--size-mb 200] [--workdir DIR]

The corpus is built from the public sets under PATH (XQuAD in every language,
the SQuAD 2.0 sample, the LlamaIndex PDFs' question sets): each file is a
random draw of paragraphs from the whole pool, so no two files are near
duplicates; a fifth of the files are written as PDFs. Every run uses seed 0.
Reports chars/s, peak RSS (sampled, and at each quarter of the corpus, to show
whether memory grows with it) and the re-index time against the full index.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def paragraphs(shared: Path) -> list[str]:
    """Every context paragraph of the public sets under `shared`."""
    pool: list[str] = []
    for path in sorted(shared.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        for article in data.get("data", []) if isinstance(data, dict) else []:
            for paragraph in article.get("paragraphs", []):
                if isinstance(paragraph, dict) and paragraph.get("context"):
                    pool.append(" ".join(paragraph["context"].split()))
    return pool


def pdf_bytes(text: str) -> bytes:
    """A plain PDF of `text` (Helvetica, latin-1): 35 lines of 90 characters a page,
    written by the tests' own minimal PDF writer."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import make_pdf

    words, lines, line = text.encode("latin-1", "replace").decode("latin-1").split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > 90:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return make_pdf([lines[i:i + 35] for i in range(0, len(lines), 35)] or [""])


def build(shared: Path, folder: Path, size_mb: float, seed: int = 0) -> list[Path]:
    """Files of 20 random paragraphs each until the text adds up to `size_mb`."""
    pool = paragraphs(shared)
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files, total, number = [], 0, 0
    while total < size_mb * 1e6:
        text = "\n\n".join(rng.sample(pool, 20))
        number += 1
        if number % 5 == 0:
            path = folder / f"doc-{number:06d}.pdf"
            path.write_bytes(pdf_bytes(text))
        else:
            path = folder / f"doc-{number:06d}.txt"
            path.write_text(text, encoding="utf-8")
        files.append(path)
        total += len(text.encode("utf-8"))
    return files


class Peak:
    """The process's resident memory, sampled every 0.2 s (ru_maxrss is for life)."""

    def __init__(self) -> None:
        self.mb, self._stop = 0.0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.mb = max(self.mb, now_mb())
            time.sleep(0.2)

    def stop(self) -> float:
        self._stop.set()
        return max(self.mb, now_mb())


def now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shared", type=Path, help="the folder of public sets (shared/benchmarks)")
    parser.add_argument("--size-mb", type=float, default=200.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    from qa import Assistant

    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        corpus = Path(scratch) / "corpus"
        files = build(args.shared, corpus, args.size_mb)
        chars = sum(len(p.read_text(encoding="utf-8")) if p.suffix == ".txt"
                    else 0 for p in files)
        bot = Assistant.open_or_create(Path(scratch) / "index")
        bot.embedder.warm_up()
        quarters = [files[: max(1, len(files) * q // 4)] for q in (1, 2, 3, 4)]
        peak, rss_by_quarter = Peak(), []
        started = time.perf_counter()
        for part in quarters:  # the same index grows by a quarter of the corpus at a time
            bot.add([*part], progress=False)
            rss_by_quarter.append(round(now_mb()))
        full = time.perf_counter() - started
        peak_mb = peak.stop()
        indexed = sum(len(bot.store.document(p).text) for p in bot.store.files()) \
            if hasattr(bot.store, "document") else chars
        changed = random.Random(1).sample(files, max(1, len(files) // 100))
        for path in changed:
            if path.suffix == ".txt":
                path.write_text(path.read_text(encoding="utf-8") + "\n\nA line was added.",
                                encoding="utf-8")
            else:
                path.write_bytes(pdf_bytes("A page was replaced by this one."))
        started = time.perf_counter()
        report = bot.add([corpus], progress=False)
        again = time.perf_counter() - started
        print(json.dumps({
            "files": len(files), "text_mb": round(indexed / 1e6, 1),
            "index_seconds": round(full, 1), "chars_per_second": round(indexed / full),
            "peak_rss_mb": round(peak_mb), "rss_mb_after_each_quarter": rss_by_quarter,
            "reindex_1pct_seconds": round(again, 1),
            "reindex_share_of_full": round(again / full, 3),
            "reindex_report": report.to_dict()}))


if __name__ == "__main__":
    main()
