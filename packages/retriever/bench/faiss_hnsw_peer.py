#!/usr/bin/python3
"""Benchmark PEER only (never a product dependency of @sr1/retriever).

FAISS IndexHNSWFlat on exactly the vectors and queries sr1 searched, same M / efConstruction / ef
values and the same thread count, so `sr1-retriever bench hnsw` can put the two side by side.
Input: float32 little-endian row-major files; ground truth as int32 (queries x k).
Output: one JSON object on stdout.
"""
import argparse
import json
import time

import numpy as np
import faiss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--truth", required=True)
    parser.add_argument("--dim", type=int, required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--efs", default="16,32,64,128,256")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    faiss.omp_set_num_threads(args.threads)
    xb = np.fromfile(args.vectors, dtype=np.float32).reshape(-1, args.dim)
    xq = np.fromfile(args.queries, dtype=np.float32).reshape(-1, args.dim)
    truth = np.fromfile(args.truth, dtype=np.int32).reshape(xq.shape[0], args.k)

    index = faiss.IndexHNSWFlat(args.dim, args.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = args.ef_construction
    start = time.perf_counter()
    index.add(xb)
    build_seconds = time.perf_counter() - start

    results = []
    for ef in [int(x) for x in args.efs.split(",")]:
        index.hnsw.efSearch = ef
        best = float("inf")
        ids = None
        for _ in range(args.repeats):
            start = time.perf_counter()
            _, ids = index.search(xq, args.k)
            best = min(best, time.perf_counter() - start)
        found = sum(len(set(ids[q].tolist()) & set(truth[q].tolist())) for q in range(xq.shape[0]))
        results.append({"ef": ef, "recall": found / (args.k * xq.shape[0]), "qps": xq.shape[0] / best})
    print(json.dumps({
        "faiss": faiss.__version__,
        "threads": args.threads,
        "build_seconds": build_seconds,
        "results": results,
    }))


if __name__ == "__main__":
    main()
