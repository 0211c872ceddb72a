"""FAISS at scale: build time, memory, query p50 and recall@10 vs exact search.

    python benchmarks/large_index.py [--n 1000000] [--smoke]

Vectors are clustered (Gaussian blobs around 2,000 centres on the unit
sphere, 384-d), since uniform random vectors have no neighbour structure.
The index is what `Settings(index_type="auto")` builds at that size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from qa.config import Settings
from qa.store import IndexOptions, build_faiss


def clustered(n: int, dim: int, seed: int = 0, centres: int = 2_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, dim)).astype(np.float32)
    middle /= np.linalg.norm(middle, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        picks = rng.integers(0, centres, stop - start)
        block = middle[picks] + 0.06 * rng.normal(size=(stop - start, dim)).astype(np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--smoke", action="store_true", help="20,000 vectors, 100 queries")
    parser.add_argument("--ef", type=int, nargs="*", help="efSearch values to sweep")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.queries = 20_000, 100
    s = Settings()
    threshold = min(s.hnsw_threshold, args.n - 1) if args.smoke else s.hnsw_threshold
    options = IndexOptions("auto", threshold, s.hnsw_m, s.hnsw_ef_construction, s.hnsw_ef_search)
    data = clustered(args.n, 384)
    rng = np.random.default_rng(1)
    queries = data[rng.choice(args.n, args.queries, replace=False)]
    queries = queries + 0.03 * rng.normal(size=queries.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    start = time.perf_counter()
    index = build_faiss(data, options)
    build_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "x.faiss")
        faiss.write_index(index, path)
        index_mb = os.path.getsize(path) / 1e6

    exact = faiss.IndexFlatIP(384)
    exact.add(data)
    _, truth = exact.search(queries, 10)
    del exact
    print("| vectors | index | efSearch | build s | index MB | query p50 ms | p95 ms | recall@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for ef in args.ef or [s.hnsw_ef_search]:
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = ef
        latencies = []
        found = np.empty((args.queries, 10), dtype=np.int64)
        for i, q in enumerate(queries):
            t0 = time.perf_counter()
            _, ids = index.search(q[None, :], 10)
            latencies.append(1000 * (time.perf_counter() - t0))
            found[i] = ids[0]
        recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)]))
        print(f"| {args.n:,} | {type(index).__name__} (M={s.hnsw_m}) | {ef} | {build_s:.1f} "
              f"| {index_mb:,.0f} | {statistics.median(latencies):.3f} "
              f"| {sorted(latencies)[int(0.95 * len(latencies))]:.3f} | {recall:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
