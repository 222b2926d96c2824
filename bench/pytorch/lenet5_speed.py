#!/usr/bin/env python3
"""PyTorch baseline for LeNet-5 speed: one training epoch and 1,000 per-sample gradients.

The model is the library's `lenet5` (1x28x28): conv1 6@5x5 pad 2, ReLU, maxpool 2, conv2 16@5x5, ReLU,
maxpool 2, fc1 400->120, ReLU, fc2 120->84, ReLU, fc3 84->10. Pixels are scaled to [0, 1] as the
library's IDX reader does.

- epoch: SGD (lr 0.05, momentum 0.9) with softmax cross-entropy over the full Fashion-MNIST training
  set (60,000 images, shuffled, batch 128), the data already in memory as one tensor (no DataLoader):
  the time is forward + backward + step only, what `woodfisher train` reports as training seconds.
- per-sample: functorch `vmap(grad(loss))` over 1,000 training images (chunks of --chunk), each
  sample's weight gradients (biases excluded, as `woodfisher grads` without --include-bias) written as
  one row of a preallocated 1,000 x d float32 matrix G.

Prints one JSON line per measurement: {"what": ..., "run": i, "seconds": ..., "cpu_seconds": ...} (wall-clock, and
CPU time of all threads: on a loaded machine the CPU time says more about the work done). Runs on --threads
threads (2 by default, the size of this project's CI machine).

    /usr/bin/python3 bench/pytorch/lenet5_speed.py --runs 5 [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from functorch import grad, make_functional, vmap


def read_idx(path: str) -> np.ndarray:
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(directory: str, stem: str) -> str:
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{stem}(.gz) not found in {directory}")


class LeNet5(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, seed: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    model.train()
    t0 = time.perf_counter()
    c0 = time.process_time()
    for s in range(0, x.shape[0], batch):
        idx = order[s:s + batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, time.process_time() - c0


def per_sample(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int, out: torch.Tensor) -> float:
    fmodel, params = make_functional(model)
    weights = [i for i, (name, _) in enumerate(model.named_parameters()) if name.endswith("weight")]

    def loss(p, xi, yi):
        return F.cross_entropy(fmodel(p, xi.unsqueeze(0)), yi.unsqueeze(0))

    per = vmap(grad(loss), in_dims=(None, 0, 0))
    t0 = time.perf_counter()
    c0 = time.process_time()
    with torch.no_grad():
        for s in range(0, x.shape[0], chunk):
            g = per(params, x[s:s + chunk], y[s:s + chunk])
            torch.cat([g[i].flatten(1) for i in weights], dim=1, out=out[s:s + chunk])
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.environ.get("WOODFISHER_DATA", "/usr/share/datasets/fashion-mnist"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--chunk", type=int, default=1000, help="samples per vmap call")
    p.add_argument("--images", type=int, default=0, help="train on the first N images only (0: all)")
    p.add_argument("--skip-epoch", action="store_true")
    p.add_argument("--skip-per-sample", action="store_true")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    images = read_idx(find(a.data, "train-images-idx3-ubyte"))
    labels = read_idx(find(a.data, "train-labels-idx1-ubyte"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    if a.images:
        x, y = x[:a.images], y[:a.images]

    model = LeNet5()
    d = sum(q.numel() for n, q in model.named_parameters() if n.endswith("weight"))
    out = torch.empty(a.samples, d)
    per_sample(model, x[:a.chunk], y[:a.chunk], a.chunk, out[:a.chunk])  # warm-up
    for r in range(0 if a.skip_per_sample else a.runs):
        s, c = per_sample(model, x[:a.samples], y[:a.samples], a.chunk, out)
        print(json.dumps({"what": f"per-sample gradients ({a.samples}, d = {d})", "run": r, "seconds": round(s, 4), "cpu_seconds": round(c, 4)}), flush=True)
    if a.skip_epoch:
        return
    for r in range(a.runs):
        s, c = epoch(LeNet5(), x, y, a.batch, r)
        print(json.dumps({"what": f"training epoch ({x.shape[0]} images, batch {a.batch})", "run": r, "seconds": round(s, 3), "cpu_seconds": round(c, 3)}), flush=True)


if __name__ == "__main__":
    main()
