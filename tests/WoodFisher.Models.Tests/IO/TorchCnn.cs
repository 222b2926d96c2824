namespace WoodFisher.Models.Tests.IO;

/// <summary>
/// Python for tests against PyTorch: <c>Net</c>, the layout of cnn:4-6:bn (conv, BatchNorm, ReLU, pool twice, then Linear)
/// with random weights and running statistics; and <c>save(net, path, arch)</c>, its state dict as safetensors written by hand
/// (header length, JSON header, little-endian bytes) with woodfisher's arch metadata. Prepend it to a script for
/// <see cref="Python.Run"/>, which imports NumPy, sys and json.
/// </summary>
internal static class TorchCnn
{
    /// <summary>Ignores the test unless /usr/bin/python3 imports every module in <paramref name="modules"/> (e.g. "torch, functorch").</summary>
    public static void Require(string modules)
    {
        var probe = Python.Run($"try:\n    import {modules}\n    print('ok')\nexcept ImportError as e:\n    print('missing', e)\n");
        if (probe != "ok")
            Assert.Ignore($"{modules} not importable: {probe}");
    }

    public const string Script = """
        import torch, torch.nn as nn, torch.nn.functional as F
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 4, 3, padding=1); self.bn1 = nn.BatchNorm2d(4)
                self.conv2 = nn.Conv2d(4, 6, 3, padding=1); self.fc = nn.Linear(6 * 49, 10)
            def forward(self, x):
                x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
                x = F.max_pool2d(F.relu(self.conv2(x)), 2)
                return self.fc(x.flatten(1))
        def random_net(seed):
            torch.manual_seed(seed)
            net = Net()
            with torch.no_grad():
                net.bn1.running_mean.uniform_(-0.2, 0.2); net.bn1.running_var.uniform_(0.5, 2.0)
                net.bn1.weight.uniform_(0.5, 1.5); net.bn1.bias.uniform_(-0.1, 0.1)
            return net
        def save(net, path, arch='cnn:4-6:bn'):
            header, blobs, off = {'__metadata__': {'woodfisher.arch': arch, 'format': 'pt'}}, [], 0
            for k, v in net.state_dict().items():
                a = v.detach().cpu().numpy()
                a = a.astype('<i8') if a.dtype == np.int64 else a.astype('<f4')
                b = a.tobytes(); header[k] = {'dtype': 'I64' if a.dtype.kind == 'i' else 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
                blobs.append(b); off += len(b)
            h = json.dumps(header).encode()
            with open(path, 'wb') as f:
                f.write(len(h).to_bytes(8, 'little')); f.write(h); [f.write(b) for b in blobs]

        """;
}
