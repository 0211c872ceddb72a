"""The HTTP API: in-process overhead of /v1/ask, and many clients on a real server.

    python benchmarks/api.py [--rounds 5] [--clients 20] [--questions 25]

Overhead: POST /v1/ask through FastAPI in-process (httpx's ASGI transport, no
network) against Assistant.ask, alternating, same questions, same run.
Load: `qa serve --no-ui` on a free port; CLIENTS threads each ask QUESTIONS
dev questions through /v1/ask, then through /v1/chat/completions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import Assistant  # noqa: E402
from qa.api import Collections, create_api  # noqa: E402
from qa.assistant import BUNDLED  # noqa: E402

QUESTIONS = [json.loads(line)["question"] for line in
             (ROOT / "tests/data/russia-warns-kosovo.dev.jsonl").read_text().splitlines()]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[int(p * (len(ordered) - 1))], 2)


def overhead(bot: Assistant, rounds: int) -> dict:
    app = create_api(Collections(bot))

    async def measure() -> tuple[list[float], list[float]]:
        direct, api = [], []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://qa") as http:
            for _ in range(rounds):
                for q in QUESTIONS:
                    start = time.perf_counter()
                    bot.ask(q)
                    direct.append(1000 * (time.perf_counter() - start))
                    start = time.perf_counter()
                    assert (await http.post("/v1/ask", json={"question": q})).status_code == 200
                    api.append(1000 * (time.perf_counter() - start))
        return direct, api

    direct, api = asyncio.run(measure())
    return {"ask_p50_ms": round(statistics.median(direct), 2),
            "v1_ask_p50_ms": round(statistics.median(api), 2),
            "overhead_p50_ms": round(statistics.median(api) - statistics.median(direct), 2)}


def load(index: Path, clients: int, questions: int) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--no-ui", "--port",
                               str(port), "--index-dir", str(index)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break  # not the start-up page's 503
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        out = {}
        for route in ("/v1/ask", "/v1/chat/completions"):
            def client(n: int) -> list[float]:
                times = []
                with httpx.Client(base_url=url, timeout=120) as http:
                    for i in range(questions):
                        q = QUESTIONS[(n + i) % len(QUESTIONS)]
                        body = {"question": q} if route == "/v1/ask" else \
                            {"model": "qa", "messages": [{"role": "user", "content": q}]}
                        start = time.perf_counter()
                        assert http.post(route, json=body).status_code == 200
                        times.append(1000 * (time.perf_counter() - start))
                return times

            with ThreadPoolExecutor(clients) as pool:
                times = [t for ts in pool.map(client, range(clients)) for t in ts]
            out[route] = {"answers": len(times), "p50_ms": pct(times, 0.5),
                          "p95_ms": pct(times, 0.95)}
        return out
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bot = Assistant.from_paths([BUNDLED], Path(scratch) / "index", progress=False)
        print(json.dumps({"overhead": overhead(bot, args.rounds),
                          "load": load(Path(scratch) / "index", args.clients,
                                       args.questions)}))


if __name__ == "__main__":
    main()
