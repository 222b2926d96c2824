#!/usr/bin/env python3
"""Size of WoodTaylor's Newton term with the empirical-Fisher block inverse, from a model's G.npy and W.npy.

    /usr/bin/python3 bench/pytorch/woodtaylor_newton_step.py out/fidelity/mlp [--block 400]

For each λ prints ‖F̂⁻¹ḡ‖ against ‖w‖ and the decrease of the loss the quadratic model predicts for the full Newton
step, ½ḡᵀF̂⁻¹ḡ (summed over blocks), where F̂ = λI + GᵀG/m per block of c coordinates (restarting at each layer of the
layout) and ḡ is the mean of the same rows. A predicted decrease larger than the loss itself (cross-entropy ≥ 0) means
the step leaves the region where the model holds.
"""
import argparse
import json

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("stem", help="path prefix: STEM.G.npy, STEM.W.npy, STEM.layout.json, STEM.json")
p.add_argument("--block", type=int, default=400)
a = p.parse_args()
G = np.load(a.stem + ".G.npy").astype(np.float64)
w = np.load(a.stem + ".W.npy").astype(np.float64)
layout = json.load(open(a.stem + ".layout.json"))
loss = json.load(open(a.stem + ".json"))["test_loss"]
m, d = G.shape
g = G.mean(0)
blocks = [(s["offset"] + o, min(a.block, s["length"] - o)) for s in layout["segments"] for o in range(0, s["length"], a.block)]
print(f"{a.stem}: m = {m}, d = {d}, c = {a.block}, {len(blocks)} blocks, |w| = {np.linalg.norm(w):.3g}, "
      f"|g| = {np.linalg.norm(g):.3g}, dense test loss {loss:.3f}")
print("lambda    |F^-1 g|   |F^-1 g|/|w|   predicted decrease 1/2 g'F^-1 g")
for lam in [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]:
    step = np.zeros(d)
    for off, c in blocks:
        Gb = G[:, off:off + c]
        step[off:off + c] = np.linalg.solve(lam * np.eye(c) + Gb.T @ Gb / m, g[off:off + c])
    print(f"{lam:8.0e}  {np.linalg.norm(step):9.3g}  {np.linalg.norm(step) / np.linalg.norm(w):12.3g}  {0.5 * g @ step:14.4g}")
