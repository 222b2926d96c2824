#!/usr/bin/env python3
"""Writes the seed corpus (a few small valid files per target) with NumPy and by hand, into corpus/TARGET/."""
import gzip, io, json, os, struct, sys
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')


def put(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), 'wb') as f:
        f.write(data)


def npy(a, version=None):
    b = io.BytesIO()
    np.lib.format.write_array(b, a, version=version)
    return b.getvalue()


def safetensors(tensors, metadata=None):
    header, off, blobs = ({'__metadata__': metadata} if metadata else {}), 0, []
    for name, (dtype, a) in tensors.items():
        raw = a.tobytes()
        header[name] = {'dtype': dtype, 'shape': list(a.shape), 'data_offsets': [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + b''.join(blobs)


def idx(a, code):
    return bytes([0, 0, code, a.ndim]) + struct.pack('>' + 'I' * a.ndim, *a.shape) + a.astype(a.dtype.newbyteorder('>')).tobytes()


rng = np.random.default_rng(0)
put('npy', 'f4_2x3.npy', npy(rng.standard_normal((2, 3)).astype('<f4')))
put('npy', 'f8_scalar.npy', npy(np.float64(2.5)))
put('npy', 'b1_v2.npy', npy(np.array([True, False, True]), version=(2, 0)))
put('npy', 'i8_v3.npy', npy(np.arange(4, dtype='<i8').reshape(2, 2), version=(3, 0)))
for compress, name in [(False, 'stored.npz'), (True, 'deflated.npz')]:
    b = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(b, w=np.arange(6, dtype='<f4').reshape(2, 3), m=np.array([True, False]))
    put('npz', name, b.getvalue())
w1, w2 = rng.standard_normal((3, 4)).astype('<f4'), rng.standard_normal((2, 3)).astype('<f4')
put('safetensors', 'mlp_nobias.safetensors', safetensors({'fc1.weight': ('F32', w1), 'fc2.weight': ('F32', w2)}, {'format': 'pt'}))
put('safetensors', 'mlp_arch.safetensors', safetensors(
    {'fc1.weight': ('F32', w1), 'fc1.bias': ('F32', np.zeros(3, '<f4')), 'fc2.weight': ('F32', w2), 'fc2.bias': ('F32', np.zeros(2, '<f4'))},
    {'format': 'pt', 'woodfisher.arch': 'mlp:4-3-2'}))
put('safetensors', 'dtypes.safetensors', safetensors({'a': ('F64', np.ones(2)), 'b': ('I64', np.arange(2, dtype='<i8')), 'c': ('BOOL', np.array([True])), 'd': ('F16', np.ones(3, '<f2'))}))
put('idx', 'labels.idx', idx(np.arange(10, dtype=np.uint8), 0x08))
put('idx', 'images.gz', gzip.compress(idx(rng.integers(0, 255, (2, 3, 3), dtype=np.uint8), 0x08), mtime=0))
put('idx', 'floats.idx', idx(np.linspace(0, 1, 4, dtype='>f4'), 0x0D))
for i, spec in enumerate(['mlp:784-300-100-10', 'mlp:4-3-2:nobias', 'lenet5', 'cifarnet:1x8x8', 'resnet20:1x4x4']):
    put('spec', f'spec{i}.txt', spec.encode())
print('corpus written to', root)
