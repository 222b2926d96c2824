#!/usr/bin/env python3
"""Same-run ratios of this library against PyTorch on LeNet-5: one training epoch and 1,000 per-sample gradients.

Each round runs the library once (`WoodFisher.Bench lenet5 1`) and PyTorch once (`lenet5_speed.py --runs 1`), one after
the other, so both see the same load; the ratio ours / PyTorch is taken per round (< 1: the library is faster) and the
range over rounds is printed with the load averages seen, as a Markdown table row per measurement and path.

    dotnet build -c Release bench/WoodFisher.Bench
    /usr/bin/python3 bench/pytorch/compare_lenet5.py --rounds 5            # AVX-512 (where present) and AVX2

PyTorch runs with OMP_WAIT_POLICY=PASSIVE unless --omp-active: on a shared machine OpenMP's spinning threads otherwise
lose their time slices to the other jobs (a training epoch then took 8x longer than with PASSIVE here).
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BENCH = os.path.join(ROOT, "bench", "WoodFisher.Bench", "bin", "Release", "net10.0", "WoodFisher.Bench.dll")


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    times = {}
    for line in out.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            key = "epoch" if rec["what"].startswith("training") else "per-sample"
            times[key] = rec["seconds"]
    return times


def load():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--images", type=int, default=0, help="train on the first N images (0: all 60,000)")
    p.add_argument("--paths", default="avx512,avx2", help="comma-separated: avx512 (the default path), avx2")
    p.add_argument("--omp-active", action="store_true")
    a = p.parse_args()
    extra = ["--images", str(a.images)] if a.images else []
    torch_env = dict(os.environ)
    if not a.omp_active:
        torch_env["OMP_WAIT_POLICY"] = "PASSIVE"
    rows = []
    for path in a.paths.split(","):
        env = dict(os.environ)
        if path == "avx2":
            env["DOTNET_EnableAVX512"] = "0"
            env["DOTNET_EnableAVX512F"] = "0"
        results = {"epoch": [], "per-sample": []}
        loads = []
        for r in range(a.rounds):
            loads.append(load())
            ours = run(["dotnet", BENCH, "lenet5", "1"] + extra, env)
            theirs = run([sys.executable, os.path.join(HERE, "lenet5_speed.py"), "--runs", "1"] + extra, torch_env)
            loads.append(load())
            for key in results:
                results[key].append((ours[key], theirs[key]))
                print(f"{path} round {r}: {key} ours {ours[key]:.3f} s, PyTorch {theirs[key]:.3f} s, ratio {ours[key] / theirs[key]:.2f}", flush=True)
        for key, pairs in results.items():
            ratios = [o / t for o, t in pairs]
            rows.append(f"| {key} | {path} | {min(o for o, _ in pairs):.3f}–{max(o for o, _ in pairs):.3f} | "
                        f"{min(t for _, t in pairs):.3f}–{max(t for _, t in pairs):.3f} | "
                        f"{min(ratios):.2f}–{max(ratios):.2f} | {min(loads):.1f}–{max(loads):.1f} |")
    print("| measurement | path | ours (s) | PyTorch (s) | ours / PyTorch | load |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
