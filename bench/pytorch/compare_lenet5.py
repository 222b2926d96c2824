#!/usr/bin/env python3
"""Same-run ratios of this library against PyTorch on LeNet-5: one training epoch and 1,000 per-sample gradients.

Each round runs the library once (`WoodFisher.Bench lenet5 1`) and PyTorch once (`lenet5_speed.py --runs 1`), one after
the other, so both see the same load; the ratio ours / PyTorch is taken per round (< 1: the library is faster) and the
range over rounds is printed with the load averages seen, as a Markdown table row per measurement and path, for
wall-clock time and for CPU time (all threads; less distorted by other jobs on a shared machine).

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
            times[key] = (rec["seconds"], rec["cpu_seconds"])
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
                (ow, oc), (tw, tc) = ours[key], theirs[key]
                results[key].append((ow, tw, oc, tc))
                print(f"{path} round {r}: {key} ours {ow:.3f} s ({oc:.3f} s CPU), PyTorch {tw:.3f} s ({tc:.3f} s CPU), "
                      f"ratio {ow / tw:.2f} ({oc / tc:.2f} CPU)", flush=True)
        for key, rec in results.items():
            def span(values, fmt):
                return f"{min(values):{fmt}}–{max(values):{fmt}}"
            rows.append(f"| {key} | {path} | {span([q[0] for q in rec], '.3f')} | {span([q[1] for q in rec], '.3f')} | "
                        f"{span([q[0] / q[1] for q in rec], '.2f')} | {span([q[2] / q[3] for q in rec], '.2f')} | "
                        f"{min(loads):.1f}–{max(loads):.1f} |")
    print("| measurement | path | ours (s) | PyTorch (s) | ours / PyTorch | CPU time ratio | load |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
