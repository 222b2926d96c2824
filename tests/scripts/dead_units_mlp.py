#!/usr/bin/env python3
"""Train an MLP without biases on Fashion-MNIST in PyTorch and save it as safetensors (written by hand: the layout of
safetensors.torch.save_file, no extra package). ReLU units that never fire give exactly-zero rows and columns in the
Hessian of the next layers' weights: the model `woodfisher study` must handle.

    python3 tests/scripts/dead_units_mlp.py --out mlp-dead.safetensors                  # 784-40-20-10, 5 epochs
    python3 tests/scripts/dead_units_mlp.py --hidden 12-8 --hessian H.npy --samples 200  # also the exact Hessian of fc2, fc3

--hessian writes the exact Hessian of the mean cross-entropy over the first --samples training images with respect to
fc2.weight and fc3.weight (flattened row-major, fc2 first), float64, by torch.autograd.functional.hessian.
"""
import argparse, gzip, json, struct
import numpy as np
import torch


def idx(path):
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    rank = raw[3]
    dims = struct.unpack('>' + 'I' * rank, raw[4:4 + 4 * rank])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def save_safetensors(path, tensors, metadata):
    header, offset, blobs = {'__metadata__': metadata}, 0, []
    for name, t in tensors.items():
        b = np.ascontiguousarray(t.detach().cpu().numpy().astype('<f4')).tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    ap.add_argument('--hidden', default='40-20')
    ap.add_argument('--epochs', type=int, default=5)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out')
    ap.add_argument('--hessian')
    ap.add_argument('--samples', type=int, default=1000)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    x = torch.tensor(idx(f'{a.data}/train-images-idx3-ubyte.gz').reshape(-1, 784), dtype=torch.float32) / 255
    y = torch.tensor(idx(f'{a.data}/train-labels-idx1-ubyte.gz').astype(np.int64))
    sizes = [784] + [int(h) for h in a.hidden.split('-')] + [10]
    layers = [torch.nn.Linear(i, o, bias=False) for i, o in zip(sizes, sizes[1:])]
    net = torch.nn.Sequential(*sum(([l, torch.nn.ReLU()] for l in layers[:-1]), []), layers[-1])
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9)
    for epoch in range(a.epochs):
        perm = torch.randperm(len(x))
        for s in range(0, len(x), 128):
            b = perm[s:s + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[b]), y[b]).backward()
            opt.step()
        with torch.no_grad():
            acc = (net(x[:10000]).argmax(1) == y[:10000]).float().mean().item()
        print(f'epoch {epoch + 1}: train accuracy {acc:.4f}')

    state = {f'fc{i + 1}.weight': l.weight for i, l in enumerate(layers)}
    with torch.no_grad():
        h, dead = x[:a.samples], []
        for i, l in enumerate(layers[:-1]):
            h = torch.relu(l(h))
            dead.append(int((h.max(0).values == 0).sum()))
    print('units dead on the first', a.samples, 'samples, per hidden layer:', dead)
    if a.out:
        save_safetensors(a.out, state, {'format': 'pt'})

    if a.hessian:
        w1 = layers[0].weight.detach().double()
        xs, ys = x[:a.samples].double(), y[:a.samples]
        s2, s3 = layers[1].weight.shape, layers[2].weight.shape
        n2 = s2[0] * s2[1]

        def loss(v):
            w2, w3 = v[:n2].reshape(s2), v[n2:].reshape(s3)
            return torch.nn.functional.cross_entropy(torch.relu(torch.relu(xs @ w1.T) @ w2.T) @ w3.T, ys)

        v = torch.cat([layers[1].weight.detach().double().flatten(), layers[2].weight.detach().double().flatten()])
        H = torch.autograd.functional.hessian(loss, v).numpy()
        zero = int((np.abs(H).max(1) == 0).sum())
        print(f'Hessian {H.shape[0]} x {H.shape[0]}: {zero} zero rows')
        np.save(a.hessian, np.ascontiguousarray(H))


if __name__ == '__main__':
    main()
