#!/usr/bin/python3
"""Synthetic tensor-mode inputs for large `woodfisher prune` runs: G.npy (m x d float32) and W.npy (d float32).

G is written in row chunks through np.lib.format.open_memmap, so memory stays ~ chunk size. The gradients are synthetic
(per row: Gaussian noise plus a direction shared by all rows, deterministic from --seed), not gradients of a trained network.

    /usr/bin/python3 bench/scale/make_gradients.py --d 10000000 --m 64 --out /work/big/d10m

bench/scale/run.sh runs it and the prune commands with their measurements.
"""
import argparse
import os

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--d", type=int, required=True)
    p.add_argument("--m", type=int, required=True)
    p.add_argument("--out", required=True, help="directory; writes G.npy and W.npy there")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk", type=int, default=1 << 24, help="entries per written chunk")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    w = rng.standard_normal(a.d, dtype=np.float32) * np.float32(0.05)
    np.save(os.path.join(a.out, "W.npy"), w)
    g = np.lib.format.open_memmap(os.path.join(a.out, "G.npy"), mode="w+", dtype=np.float32, shape=(a.m, a.d))
    cols = max(1, a.chunk)
    for r in range(a.m):
        for c0 in range(0, a.d, cols):
            c1 = min(a.d, c0 + cols)
            row = rng.standard_normal(c1 - c0, dtype=np.float32)
            row *= np.float32(1e-3)
            row += np.float32(1e-3) * w[c0:c1]  # a shared direction, so the Fisher is not isotropic
            g[r, c0:c1] = row
        g.flush()
        print(f"row {r + 1}/{a.m}", flush=True)
    del g


if __name__ == "__main__":
    main()
