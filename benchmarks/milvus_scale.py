"""How the Milvus store scales on Milvus Lite: ingest rate, query p50, memory.

    python benchmarks/milvus_scale.py [--chunks 200000] [--smoke]

Synthetic documents go straight to the store (no embedding: this measures
the store): each has 10 chunks of 4 sentences, with Zipf-distributed words
from a 50,000-word vocabulary and clustered unit vectors (384-d, 1,000
clusters). Files are committed 500 at a time, as `qa index` would commit a
large folder. Queries are hybrid searches (dense + BM25, RRF in Milvus) with
the records an answer needs, as `Assistant.ask` runs them, for a new chunk's
vector and 6 of its words; p50 over 50 queries at each checkpoint. Memory is this process's peak RSS, Milvus Lite
included (it runs in-process). Prints one Markdown row per checkpoint.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENTENCES, PER_CHUNK, DIM, VOCAB = 40, 4, 384, 50_000


def documents(first: int, count: int, rng: np.random.Generator, centres: np.ndarray,
              words: list[str]):  # type: ignore[no-untyped-def]
    from qa.chunking import Chunk, Span
    from qa.documents import Document
    from qa.store import Entry

    ranks = np.minimum(rng.zipf(1.3, size=(count, SENTENCES, 9)), VOCAB) - 1
    for d in range(count):
        sentences = [" ".join(words[r] for r in ranks[d, s]).capitalize() + "."
                     for s in range(SENTENCES)]
        text = " ".join(sentences)
        spans, at = [], 0
        for s in sentences:
            spans.append(Span(at, at + len(s)))
            at += len(s) + 1
        path = f"/synthetic/doc-{first + d:07d}.txt"
        chunks = [Chunk(source=Path(path).name, path=path, start=spans[i].start,
                        end=spans[i + PER_CHUNK - 1].end,
                        text=text[spans[i].start:spans[i + PER_CHUNK - 1].end],
                        sentences=spans[i:i + PER_CHUNK], page=None)
                  for i in range(0, SENTENCES, PER_CHUNK)]
        cluster = centres[rng.integers(len(centres))]
        vectors = cluster + 0.35 * rng.standard_normal((SENTENCES + len(chunks), DIM))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        yield Entry(doc=Document(text=text, source=Path(path).name, path=path,
                                 sha256=f"{first + d:064x}"),
                    sentences=spans, chunks=chunks,
                    chunk_vectors=vectors[SENTENCES:].astype(np.float32),
                    sentence_vectors=vectors[:SENTENCES].astype(np.float32))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500, help="files per commit")
    parser.add_argument("--smoke", action="store_true", help="2,000 chunks, seconds")
    args = parser.parse_args()
    from qa.chunking import terms
    from qa.config import Settings
    from qa.store.milvus import MilvusStore

    total = 2_000 if args.smoke else args.chunks
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1_000, DIM))
    words = [f"w{i}x" for i in range(VOCAB)]
    shape = Settings().index_shape()
    print("| chunks | ingest chunks/s | query p50 ms | query p95 ms | peak RSS MB |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="qa-milvus-scale-") as scratch:
        store = MilvusStore.create(f"{scratch}/scale.db", "scale", shape)
        files, loaded, seconds = total // (SENTENCES // PER_CHUNK), 0, 0.0
        checkpoints = {files // 4, files // 2, files}
        done = 0
        while done < files:
            batch = list(documents(done, min(args.batch, files - done), rng, centres, words))
            started = time.perf_counter()
            store.commit(add=batch)
            seconds += time.perf_counter() - started
            done += len(batch)
            loaded += sum(len(e.chunks) for e in batch)
            if done in checkpoints or any(done >= c > done - len(batch) for c in checkpoints):
                times = []
                for q in range(50):
                    probe = next(documents(10_000_000 + q, 1, rng, centres, words))
                    vector = probe.chunk_vectors[0]
                    began = time.perf_counter()
                    # A question's worth of terms: 6 words of a chunk, not its 36.
                    words_of = terms(probe.chunks[0].text)
                    store.search([(vector, words_of[::6][:6])], 8, 30, 60)
                    times.append(1000 * (time.perf_counter() - began))
                times.sort()
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"| {loaded:,} | {loaded / seconds:,.0f} | {statistics.median(times):.1f} "
                      f"| {times[47]:.1f} | {rss:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
