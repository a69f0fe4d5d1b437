"""Item neighbours (the item-kNN and content models' top-k similarity matrices): the sparse
top-k product (:func:`loyalist.recommend.itemknn.top_k_product`, on ``sparse_dot_topn``)
against the dense-block path it replaced (items x items in blocks of 1,024 rows, each made
dense and cut with ``argpartition``; still used for a cosine with a shrink term), in the same
run on the same matrices. Both give the same values per row (checked here); they may keep
different members of a group tied at the k-th value.

Also the content model's path for catalogues with few distinct item vectors (categories and
price bands, no descriptions: :func:`loyalist.recommend.content.content_neighbours`) against
the top-k product on the same matrix.

Cases: a catalogue of one-off items (every product bought once, as in a marketplace or a
second-hand shop: the co-purchase matrix is almost empty) and the 1M-interaction simulated log
of ``bench_recommend.py`` (50k customers x 5k items).

    python benchmarks/bench_neighbours.py [--items 50000] [--trials 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def one_off_catalogue(n_items: int) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """(customers x items purchases, items x features, the same features without the
    descriptions) for ``n_items`` products bought once each, two per order, by
    ``n_items / 2.5`` customers; twelve categories, prices, short descriptions."""
    from loyalist.recommend.content import item_features
    from loyalist.recommend.interactions import Interactions

    rng = np.random.default_rng(0)
    lines = pd.DataFrame({
        "customer_id": [f"C{c}" for c in rng.integers(0, int(n_items / 2.5), n_items)],
        "order_id": [f"O{i // 2}" for i in range(n_items)],
        "ordered_at": pd.Timestamp("2025-01-01")
        + pd.to_timedelta(rng.integers(0, 365 * 24, n_items), unit="h"),
        "product_id": [f"P{i}" for i in range(n_items)]})
    catalog = pd.DataFrame(
        {"category": rng.choice([f"cat{k}" for k in range(12)], n_items),
         "price": rng.gamma(2.0, 20.0, n_items),
         "description": [f"item {a} thing {b}" for a, b in
                         zip(rng.integers(0, 3000, n_items), rng.integers(0, 500, n_items),
                             strict=True)]},
        index=[f"P{i}" for i in range(n_items)])
    it = Interactions.from_lines(lines, catalog=catalog)
    return (it.matrix(binary=True).tocsr(), item_features(it.catalog).tocsr(),
            item_features(it.catalog.assign(description=None)).tocsr())


def simulated_log() -> sp.csr_matrix:
    from loyalist.recommend import Interactions, simulate_purchases

    lines, catalog = simulate_purchases(n_customers=50_000, n_items=5_000,
                                        n_interactions=1_000_000, seed=0)
    return Interactions.from_lines(lines, catalog=catalog).matrix(binary=True).tocsr()


def dense_blocks(a: sp.csr_matrix, b: sp.csr_matrix, k: int) -> sp.csr_matrix:
    from loyalist.recommend.itemknn import neighbours_from_block_fn

    bc = b.tocsc()
    return neighbours_from_block_fn(
        lambda start, stop: (a[start:stop] @ bc).toarray().astype(np.float32),
        a.shape[0], k, True)


def same_values(x: sp.csr_matrix, y: sp.csr_matrix) -> bool:
    x, y = x.tocsr(), y.tocsr()
    if not np.array_equal(np.diff(x.indptr), np.diff(y.indptr)):
        return False
    for i in range(x.shape[0]):
        u = np.sort(x.data[x.indptr[i]:x.indptr[i + 1]])
        v = np.sort(y.data[y.indptr[i]:y.indptr[i + 1]])
        if not np.allclose(u, v, rtol=1e-5, atol=1e-7):
            return False
    return True


def cosine_factors(w: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(items x customers, customers x items) scaled so that their product is the cosine."""
    norm = np.sqrt(np.maximum(np.asarray(w.multiply(w).sum(axis=0)).ravel(), 1e-12))
    return (sp.diags(1.0 / norm) @ w.T).tocsr(), (w @ sp.diags(1.0 / norm)).tocsr()


def main() -> None:
    from loyalist.recommend.itemknn import top_k_product

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--k", type=int, default=100)
    args = ap.parse_args()
    from loyalist.recommend.content import content_neighbours

    w, f, plain = one_off_catalogue(args.items)
    cases = {f"item-kNN, {args.items:,} one-off items": cosine_factors(w),
             f"content, {args.items:,} one-off items": (f, f.T.tocsr())}
    sim = simulated_log()
    cases["item-kNN, 1M interactions x 5k items"] = cosine_factors(sim)
    rows = []
    for name, (a, b) in cases.items():
        t_new, t_old = [], []
        new = old = None
        for _ in range(args.trials):
            t = time.perf_counter()
            new = top_k_product(a, b, args.k, True)
            t_new.append(time.perf_counter() - t)
            t = time.perf_counter()
            old = dense_blocks(sp.csr_matrix(a, dtype=np.float64),
                               sp.csr_matrix(b, dtype=np.float64), args.k)
            t_old.append(time.perf_counter() - t)
        row = {"case": name, "top_k_product_s": statistics.median(t_new),
               "dense_blocks_s": statistics.median(t_old),
               "same_values": same_values(new, old), "nnz": int(new.nnz)}
        row["speedup"] = row["dense_blocks_s"] / max(row["top_k_product_s"], 1e-9)
        rows.append(row)
        print(f"{name:40s} top-k product {row['top_k_product_s']:7.2f} s   dense blocks "
              f"{row['dense_blocks_s']:7.2f} s   {row['speedup']:7.1f}x   same values per row: "
              f"{row['same_values']}", flush=True)
    # content without descriptions: once per distinct vector, against the top-k product
    t_new, t_old = [], []
    for _ in range(args.trials):
        t = time.perf_counter()
        new = content_neighbours(plain, args.k, True, np.zeros(plain.shape[0]))
        t_new.append(time.perf_counter() - t)
        t = time.perf_counter()
        old = top_k_product(plain, plain.T, args.k, True, prefer=np.zeros(plain.shape[0]))
        t_old.append(time.perf_counter() - t)
    row = {"case": f"content, {args.items:,} items, category and price only",
           "per_distinct_vector_s": statistics.median(t_new),
           "top_k_product_s": statistics.median(t_old), "same": bool((new != old).nnz == 0)}
    row["speedup"] = row["top_k_product_s"] / max(row["per_distinct_vector_s"], 1e-9)
    rows.append(row)
    print(f"{row['case']:40s} per distinct vector {row['per_distinct_vector_s']:6.2f} s   "
          f"top-k product {row['top_k_product_s']:7.2f} s   {row['speedup']:7.1f}x   same "
          f"neighbours: {row['same']}", flush=True)
    out = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "load_1min": os.getloadavg()[0]},
           "trials": args.trials, "k": args.k, "results": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "neighbours.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
