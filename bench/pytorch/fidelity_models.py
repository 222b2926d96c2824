#!/usr/bin/env python3
"""Models made elsewhere, for the fidelity table (docs/fidelity.md): trained in PyTorch, written as safetensors.

    /usr/bin/python3 bench/pytorch/fidelity_models.py make --out out/fidelity        # train + write all four
    /usr/bin/python3 bench/pytorch/fidelity_models.py eval --model out/fidelity/mlp.safetensors \
        --weights pruned.npy                                                             # test accuracy of pruned W

`make` trains on Fashion-MNIST (IDX gz, pixels / 255 as woodfisher reads them) with SGD (momentum 0.9, cosine
learning rate, batch 128, seed 0, 2 threads) and writes, per model NAME:

- NAME.safetensors   every parameter and buffer under its PyTorch name, F32 (num_batches_tracked I64), with the
                     woodfisher spec in __metadata__["woodfisher.arch"] (the safetensors format is written here
                     directly: an 8-byte little-endian header length, a JSON header, the raw little-endian bytes);
- NAME.W.npy         the prunable weights (every Conv2d/Linear weight, model order) flattened into one (d,) vector;
- NAME.G.npy         per-sample gradients of the cross-entropy of the first --samples training images over those
                     weights, (m, d) float32, by functorch (vmap over grad, BatchNorm in eval mode);
- NAME.layout.json   the columns of G: {"model", "rows", "dimension", "minibatch", "segments": [{name, shape,
                     offset, length}]}, as `woodfisher grads` writes it;
- NAME.json          dense test accuracy and loss, training settings and seconds.

`eval` loads NAME.safetensors, replaces the prunable weights by a (d,) .npy (e.g. `woodfisher prune` tensor mode's
output) and prints one JSON line with the test accuracy and loss, so tensor-mode results are scored by PyTorch.
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from functorch import grad, make_functional_with_buffers, vmap

from lenet5_speed import LeNet5 as SpeedLeNet5, read_idx

DATA = "/usr/share/datasets/fashion-mnist"


class Mlp(nn.Module):
    """784-40-20-10 without biases: woodfisher's mlp:784-40-20-10:nobias."""

    spec = "mlp:784-40-20-10:nobias"

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 40, bias=False)
        self.fc2 = nn.Linear(40, 20, bias=False)
        self.fc3 = nn.Linear(20, 10, bias=False)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class SmallCnn(nn.Module):
    """conv1 3x3 (pad 1) [-> bn1] -> relu -> pool 2 -> conv2 3x3 (pad 1) -> relu -> pool 2 -> fc: woodfisher's cnn:C1-C2[:bn]."""

    def __init__(self, c1=16, c2=32, bn=False):
        super().__init__()
        self.spec = f"cnn:{c1}-{c2}" + (":bn" if bn else "")
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c1) if bn else None
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc = nn.Linear(c2 * 7 * 7, 10)

    def forward(self, x):
        x = self.conv1(x.reshape(x.shape[0], 1, 28, 28))
        if self.bn1 is not None:
            x = self.bn1(x)
        x = F.max_pool2d(F.relu(x), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


class LeNet5(SpeedLeNet5):
    """woodfisher's lenet5 (1x28x28), the speed benchmark's network, taking flat 784-pixel rows."""

    spec = "lenet5"

    def forward(self, x):
        return super().forward(x.reshape(x.shape[0], 1, 28, 28))


# name -> (constructor, epochs, peak learning rate)
MODELS = {
    "mlp": (Mlp, 10, 0.05),
    "cnn": (lambda: SmallCnn(bn=False), 3, 0.05),
    "bncnn": (lambda: SmallCnn(bn=True), 2, 0.05),
    "lenet5": (LeNet5, 5, 0.05),
}


def load(split, data):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(data, f"{prefix}-images-idx3-ubyte.gz")).astype(np.float32) / 255
    y = read_idx(os.path.join(data, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    return torch.from_numpy(x.reshape(len(x), -1).copy()), torch.from_numpy(y.copy())


def prunable(model):
    """(name, parameter) of every Conv2d/Linear weight, in model order: woodfisher's default selection."""
    return [(n + ".weight", m.weight) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        loss, correct = 0.0, 0
        for i in range(0, len(y), 1000):
            out = model(x[i:i + 1000])
            loss += F.cross_entropy(out, y[i:i + 1000], reduction="sum").item()
            correct += (out.argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(y), loss / len(y)


def train(model, x, y, epochs, lr, batch=128):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    steps = epochs * math.ceil(len(y) / batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    g = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
        print(f"  epoch {epoch + 1}/{epochs}", flush=True)


def per_sample_grads(model, x, y, chunk=250):
    """(m, d) float32: row n = d loss(x_n, y_n) / d (prunable weights), by vmap(grad) over the functional model."""
    model.eval()
    fmodel, params, buffers = make_functional_with_buffers(model)
    names = [n for n, _ in model.named_parameters()]
    keep = [names.index(n) for n, _ in prunable(model)]

    def loss(p, b, xi, yi):
        return F.cross_entropy(fmodel(p, b, xi.unsqueeze(0)), yi.unsqueeze(0))

    rows = []
    for i in range(0, len(y), chunk):
        gs = vmap(grad(loss), in_dims=(None, None, 0, 0))(params, buffers, x[i:i + chunk], y[i:i + chunk])
        rows.append(torch.cat([gs[k].reshape(gs[k].shape[0], -1) for k in keep], dim=1))
    return torch.cat(rows).detach().numpy().astype(np.float32)


def save_safetensors(path, tensors, metadata):
    """Writes the safetensors format: u64 LE header size, JSON header, little-endian tensor bytes in order."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().numpy()
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
        b = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "I64": np.int64, "F64": np.float64}[e["dtype"]]
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=np.dtype(dt).newbyteorder("<")).astype(dt).reshape(e["shape"]))
    return out, header.get("__metadata__", {})


def make(args):
    os.makedirs(args.out, exist_ok=True)
    xtr, ytr = load("train", args.data)
    xte, yte = load("test", args.data)
    for name in args.models.split(","):
        ctor, epochs, lr = MODELS[name]
        torch.manual_seed(0)
        model = ctor()
        print(f"{name} ({model.spec}): training {epochs} epochs", flush=True)
        t0 = time.time()
        train(model, xtr, ytr, epochs, lr)
        t_train = time.time() - t0
        acc, loss = evaluate(model, xte, yte)
        t0 = time.time()
        g = per_sample_grads(model, xtr[:args.samples], ytr[:args.samples])
        t_grads = time.time() - t0
        weights = prunable(model)
        w = torch.cat([p.detach().reshape(-1) for _, p in weights]).numpy().astype(np.float32)
        segments, offset = [], 0
        for n, p in weights:
            segments.append({"name": n, "shape": list(p.shape), "offset": offset, "length": p.numel()})
            offset += p.numel()
        base = os.path.join(args.out, name)
        save_safetensors(base + ".safetensors", model.state_dict(), {"format": "pt", "woodfisher.arch": model.spec})
        np.save(base + ".W.npy", w)
        np.save(base + ".G.npy", g)
        with open(base + ".layout.json", "w") as f:
            json.dump({"model": model.spec, "rows": len(g), "dimension": len(w), "minibatch": 1, "segments": segments}, f, indent=2)
        with open(base + ".json", "w") as f:
            json.dump({"model": model.spec, "test_accuracy": acc, "test_loss": loss, "epochs": epochs, "lr": lr,
                       "d": len(w), "grad_rows": len(g), "train_seconds": t_train, "grads_seconds": t_grads}, f, indent=2)
        print(f"{name}: d = {len(w)}, test accuracy {acc:.4f}, loss {loss:.4f}, train {t_train:.0f} s, "
              f"{len(g)} per-sample gradients {t_grads:.1f} s", flush=True)


def evaluate_weights(args):
    state, meta = load_safetensors(args.model)
    spec = meta.get("woodfisher.arch", "")
    model = next(c() for c, _, _ in MODELS.values() if c().spec == spec)
    model.load_state_dict(state, strict=True)
    w = torch.from_numpy(np.load(args.weights).astype(np.float32))
    offset = 0
    with torch.no_grad():
        for _, p in prunable(model):
            p.copy_(w[offset:offset + p.numel()].reshape(p.shape))
            offset += p.numel()
    if offset != len(w):
        raise SystemExit(f"{args.weights} has {len(w)} weights; {spec} has {offset} prunable")
    xte, yte = load("test", args.data)
    acc, loss = evaluate(model, xte, yte)
    print(json.dumps({"model": spec, "weights": args.weights, "test_accuracy": acc, "test_loss": loss,
                      "sparsity": float((w == 0).float().mean())}))


def main():
    torch.set_num_threads(2)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", default="out/fidelity")
    m.add_argument("--data", default=DATA)
    m.add_argument("--models", default=",".join(MODELS))
    m.add_argument("--samples", type=int, default=1000, help="per-sample gradient rows (first training images)")
    e = sub.add_parser("eval")
    e.add_argument("--model", required=True)
    e.add_argument("--weights", required=True)
    e.add_argument("--data", default=DATA)
    a = p.parse_args()
    make(a) if a.cmd == "make" else evaluate_weights(a)


if __name__ == "__main__":
    main()
