"""The FAISS store at scale: what a small change costs as the index grows.

    python benchmarks/scale.py PATH/qa_train/squad_v1.1_train.json [--mb 0.1 2]
        [--xquad PATH/xquad_en/xquad.en.json] [--record scale]

For each size, SQuAD training articles (one text file each, repeated with a
numbered name once they run out) fill a folder with that many MB of text,
which is indexed in a fresh process. Then, in another fresh process (the
query process): open the index, the first question after loading, a warm
question's median over 20, adding one small file, the question after it,
removing the file, and the process's peak memory, what it holds (its own
pages) and the index files' pages it has mapped. With --xquad, the XQuAD
articles are in every index, and the share of their questions answered
right is measured over each one: the right sentence must still be found
among the larger index. The sizes side by side are the point: the cost of a
change should follow the change, not the index.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from results import Table  # noqa: E402

SMALL = "The Velde tide mill was restored in 2019 by the Korsby mill society.\n"
QUESTION = "What does the article say about the history of the university?"


def fill(folder: Path, squad: Path, mb: float, xquad: Path | None) -> int:
    """Write SQuAD articles as text files until `mb` MB; return the bytes written."""
    folder.mkdir(parents=True)
    articles = [(a["title"], "\n\n".join(p["context"] for p in a["paragraphs"]))
                for a in json.loads(squad.read_text(encoding="utf-8"))["data"]]
    written = 0
    if xquad:
        for i, article in enumerate(json.loads(xquad.read_text(encoding="utf-8"))["data"]):
            text = "\n\n".join(p["context"] for p in article["paragraphs"])
            (folder / f"xquad-{i:02d}.txt").write_text(text, encoding="utf-8")
            written += len(text.encode("utf-8"))
    n = 0
    while written < mb * 1e6:
        title, text = articles[n % len(articles)]
        name = f"{title[:60]}-{n // len(articles)}.txt".replace("/", "_")
        (folder / name).write_text(text, encoding="utf-8")
        written += len(text.encode("utf-8"))
        n += 1
    return written


def index(folder: Path, index_dir: Path) -> dict[str, float]:
    """Index `folder` into `index_dir`, timed, with the peak memory (MB)."""
    from qa import Assistant

    started = time.perf_counter()
    Assistant.from_paths([folder], index_dir, progress=False)
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


def query(index_dir: Path, scratch: Path, xquad: Path | None) -> dict[str, float]:
    """The query process's timings, its peak memory, and XQuAD accuracy."""
    from qa import Assistant

    out: dict[str, float] = {}
    started = time.perf_counter()
    bot = Assistant.load(index_dir)
    out["open"] = time.perf_counter() - started
    started = time.perf_counter()
    bot.ask(QUESTION)
    out["first"] = time.perf_counter() - started
    warm = []
    for _ in range(20):
        started = time.perf_counter()
        bot.ask(QUESTION)
        warm.append(time.perf_counter() - started)
    out["warm_p50"] = statistics.median(warm)
    small = scratch / "velde-mill.txt"
    small.write_text(SMALL, encoding="utf-8")
    started = time.perf_counter()
    bot.add([small])
    out["add"] = time.perf_counter() - started
    started = time.perf_counter()
    answer = bot.ask("Who restored the Velde tide mill?")
    out["after_add"] = time.perf_counter() - started
    out["found_new"] = float("Korsby" in answer.text)
    started = time.perf_counter()
    bot.remove([small])
    out["remove"] = time.perf_counter() - started
    out["peak_mb"] = _peak_mb()
    out["held_mb"] = _held_mb()
    out["mapped_mb"] = _mapped_mb()
    if xquad:
        from qa.evaluation import normalize_answer as normalize

        right = total = 0
        for article in json.loads(xquad.read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    answer = bot.ask(qa["question"])
                    golds = [normalize(a["text"]) for a in qa["answers"]]
                    right += answer.found and any(g in normalize(answer.text) for g in golds)
                    total += 1
        out["xquad"] = right / max(1, total)
    return out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _held_mb() -> float:
    """The process's own resident memory now (MB, RssAnon): what it holds
    once the index is open and has answered, past the peak of opening it.
    Memory-mapped index files it has read are counted apart (`_mapped_mb`):
    those pages are the file cache's, shared, and dropped under pressure."""
    import gc

    gc.collect()
    return _status("RssAnon")


def _mapped_mb() -> float:
    """Resident pages of mapped files (MB, RssFile: the index's, and the
    libraries' code)."""
    return _status("RssFile")


def _status(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _in_process(step: str, *args: str) -> dict[str, float]:
    """Run one step in a fresh Python process; its JSON result."""
    run = subprocess.run([sys.executable, __file__, "--step", step, *args], check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", type=Path, nargs="?")
    parser.add_argument("--mb", type=float, nargs="+", default=[0.1, 2.0])
    parser.add_argument("--xquad", type=Path)
    parser.add_argument("--record", metavar="NAME")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # a worker: one step, its result as JSON on the last line
        paths = [Path(a) if a != "-" else None for a in args.args]
        result = index(*paths) if args.step == "index" else query(*paths)
        print(json.dumps(result))
        return
    table = Table(args.record or "scale", [
        "text (MB)", "files", "index (s)", "indexing peak (MB)", "index on disk (MB)",
        "open (s)", "first question (s)", "warm p50 (ms)", "add one file (s)",
        "question after it (s)", "remove it (s)", "query process peak (MB)",
        "query process holds (MB)", "XQuAD answered right", "mapped files resident (MB)"])
    with tempfile.TemporaryDirectory() as scratch:
        for mb in args.mb:
            folder, index_dir = Path(scratch) / f"docs-{mb}", Path(scratch) / f"index-{mb}"
            size = fill(folder, args.squad, mb, args.xquad)
            built = _in_process("index", "--args", str(folder), str(index_dir))
            on_disk = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
            asked = _in_process("query", "--args", str(index_dir), scratch,
                                str(args.xquad) if args.xquad else "-")
            assert asked["found_new"], "the added file's answer was not found"
            table.add(round(size / 1e6, 2), len(list(folder.iterdir())),
                      round(built["seconds"], 1), round(built["peak_mb"]),
                      round(on_disk / 1e6, 1), round(asked["open"], 2),
                      round(asked["first"], 2), round(1000 * asked["warm_p50"], 1),
                      round(asked["add"], 2), round(asked["after_add"], 2),
                      round(asked["remove"], 2), round(asked["peak_mb"]),
                      round(asked["held_mb"]),
                      round(asked["xquad"], 3) if "xquad" in asked else "not run",
                      round(asked["mapped_mb"]))
    if len(table.rows) >= 2:  # the largest against the smallest
        small, large = table.rows[0], table.rows[-1]
        ratios = {name: large[i] / max(small[i], 1e-3) for i, name in
                  ((6, "first question"), (8, "add"), (9, "question after it"),
                   (10, "remove"))}
        table.notes.append(f"{large[0]} MB against {small[0]} MB of text: " + ", ".join(
            f"{name} {ratio:.1f}x" for name, ratio in ratios.items()))
        grow = (large[11] - small[11]) / (large[0] - small[0])
        hold = (large[12] - small[12]) / (large[0] - small[0])
        table.notes.append(f"memory per MB of text past the smallest: peak {grow:.1f} MB, "
                           f"held {hold:.1f} MB")
        print("\n".join(table.notes))
    if args.record:
        print(f"recorded {table.save()}")


if __name__ == "__main__":
    main()
