#!/usr/bin/env python3
"""NumPy baseline for `woodfisher bench`: form and invert the blocks of F = lam*I + G^T G / N.

Reads G from a .npy file (m x d, float32) or makes a seeded random one, then for every block of
c consecutive coordinates forms the block of F with one GEMM (G_b^T G_b) and inverts it by
Cholesky (np.linalg.cholesky + triangular inverse through np.linalg.inv on the factor).
Prints one JSON line: {"seconds": ..., "cpu_seconds": ..., "gflops": ..., "blas": ...} (best wall-clock and best
CPU time, all threads, of --repeat runs; CPU time is the fairer figure on a loaded machine).

Run it with an optimized BLAS (Debian's libopenblas0-pthread). OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE
may be set on this machine to work around old OpenBLAS bugs; unset both for this one command when
measuring (see the README).
"""
import argparse
import json
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--grads", help="G.npy (m x d); random when omitted")
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--d", type=int, default=65536)
    p.add_argument("--block", type=int, default=512)
    p.add_argument("--damping", type=float, default=1e-5)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()

    if a.grads:
        g = np.load(a.grads).astype(a.dtype, copy=False)
    else:
        g = np.random.default_rng(0).standard_normal((a.m, a.d), dtype=np.float32).astype(a.dtype)
    m, d = g.shape
    c = a.block
    best = float("inf")
    best_cpu = float("inf")
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        c0 = time.process_time()
        diag = np.empty(d, dtype=a.dtype)
        for off in range(0, d, c):
            gb = np.ascontiguousarray(g[:, off:off + c])
            f = gb.T @ gb
            f /= m
            f[np.diag_indices_from(f)] += a.damping
            l = np.linalg.cholesky(f)
            li = np.linalg.inv(l)
            inv = li.T @ li
            diag[off:off + c] = np.diag(inv)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    nblocks = (d + c - 1) // c
    # Same flop convention as the C# side: 4 c^2 m per block for the Woodbury forms.
    flops = 4.0 * c * c * m * nblocks
    try:
        from threadpoolctl import threadpool_info  # optional
        blas = [i.get("internal_api") + ":" + str(i.get("architecture")) for i in threadpool_info()]
    except Exception:  # noqa: BLE001
        # Without threadpoolctl: name the BLAS library actually mapped into this process.
        try:
            with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
                libs = {line.split()[-1].rsplit("/", 1)[-1] for line in maps if "blas" in line.lower() and line.rstrip().endswith((".so", ".so.0", ".so.3"))}
            blas = sorted(libs, key=lambda lib: ("libopenblas" not in lib, lib)) or ["unknown"]
        except OSError:
            blas = ["unknown"]
    print(json.dumps({"seconds": best, "cpu_seconds": best_cpu, "gflops": flops / best / 1e9, "m": m, "d": d, "c": c,
                      "dtype": a.dtype, "blas": blas}))


if __name__ == "__main__":
    main()
