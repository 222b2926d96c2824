using System.Globalization;
using WoodFisher.IO;
using WoodFisher.Pruning;
using static WoodFisher.Cli.Tests.PruneTestSupport;

namespace WoodFisher.Cli.Tests;

/// <summary>
/// <c>prune --model M.safetensors --grads G.npy --layout G.json</c>: a model the tool cannot build, pruned by tensor
/// name. The files come from NumPy (a hand-written safetensors writer, independent of ours) and from PyTorch.
/// </summary>
[NonParallelizable]
public class PruneLayoutTests : CliFixture
{
    /// <summary>A safetensors reader and writer in plain NumPy (the format is 8 bytes of header length, JSON, data).</summary>
    private const string SafeTensorsPy = """
        import json, struct, sys
        import numpy as np
        CODES = {'float32': 'F32', 'float64': 'F64', 'float16': 'F16', 'int64': 'I64', 'int32': 'I32', 'bool': 'BOOL', 'uint8': 'U8'}
        def save_st(path, tensors, metadata=None):
            header, off, blobs = {}, 0, []
            if metadata: header['__metadata__'] = metadata
            for name, a in tensors.items():
                b = np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes()
                header[name] = {'dtype': CODES[a.dtype.name], 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
                off += len(b); blobs.append(b)
            h = json.dumps(header).encode(); h += b' ' * (-len(h) % 8)
            with open(path, 'wb') as f:
                f.write(struct.pack('<Q', len(h))); f.write(h)
                for b in blobs: f.write(b)
        def load_st(path):
            with open(path, 'rb') as f:
                n = struct.unpack('<Q', f.read(8))[0]; header = json.loads(f.read(n)); buf = f.read()
            meta = header.pop('__metadata__', {})
            dt = {v: np.dtype(k).newbyteorder('<') for k, v in CODES.items()}
            return {k: np.frombuffer(buf[v['data_offsets'][0]:v['data_offsets'][1]], dtype=dt[v['dtype']]).reshape(v['shape'])
                    for k, v in header.items()}, meta
        def write_layout(path, tensors, names, rows):
            segs, off = [], 0
            for n in names:
                segs.append({'name': n, 'shape': list(tensors[n].shape), 'offset': off, 'length': int(tensors[n].size)}); off += int(tensors[n].size)
            json.dump({'rows': rows, 'minibatch': 1, 'dimension': off, 'segments': segs}, open(path, 'w'))
            return off
        """;

    /// <summary>
    /// A CNN-shaped state dict written by NumPy: conv weights [out, in, kh, kw], biases, BatchNorm weight, bias,
    /// running mean and variance, an int64 num_batches_tracked scalar, a float64 linear head, and metadata. The layout
    /// lists the three weights in an order unlike the file's. Oracle: tensor mode on NumPy's own concatenation of the
    /// same weights (W.npy) with the same G and segments = the layout's lengths.
    /// </summary>
    [Test]
    [Category("Interop")]
    public void NumPyCnn_PrunesTheLayoutTensors_LikeTensorMode_AndCopiesTheRestBitExact()
    {
        Python(SafeTensorsPy + "\n" + $$"""
            d = r'{{Dir}}'
            rng = np.random.default_rng(3)
            t = {
                'conv1.weight': rng.standard_normal((6, 1, 3, 3)).astype('<f4'), 'conv1.bias': rng.standard_normal(6).astype('<f4'),
                'bn1.weight': rng.standard_normal(6).astype('<f4'), 'bn1.bias': rng.standard_normal(6).astype('<f4'),
                'bn1.running_mean': rng.standard_normal(6).astype('<f4'), 'bn1.running_var': rng.random(6).astype('<f4') + 0.5,
                'bn1.num_batches_tracked': np.array(9007199254740993, dtype='<i8'),
                'conv2.weight': rng.standard_normal((8, 6, 3, 3)).astype('<f4'), 'conv2.bias': rng.standard_normal(8).astype('<f4'),
                'fc.weight': rng.standard_normal((10, 8)), 'fc.bias': rng.standard_normal(10).astype('<f4'),
            }
            save_st(d + '/cnn.safetensors', t, {'format': 'pt', 'made_by': 'numpy'})
            names = ['fc.weight', 'conv2.weight', 'conv1.weight']
            dim = write_layout(d + '/G.json', t, names, 64)
            np.save(d + '/G.npy', (rng.standard_normal((64, dim)) * 0.1).astype('<f4'))
            np.save(d + '/W.npy', np.concatenate([t[n].astype('<f8').ravel() for n in names]))
            print(dim)
            """);
        var common = new[] { "--grads", P("G.npy"), "--sparsity", "0.7", "--method", "woodfisher", "--block", "32", "--damping", "1e-3" };
        var (code, stdout, stderr) = Run(["prune", "--model", P("cnn.safetensors"), "--layout", P("G.json"), .. common,
            "--out", P("pruned.safetensors"), "--mask", P("mask.safetensors"), "--report", P("report.json")]);
        Assert.That(code, Is.Zero, stderr);
        (code, _, stderr) = Run(["prune", "--weights", P("W.npy"), "--segments", "80,432,54", .. common,
            "--out", P("W2.npy"), "--mask", P("M2.npy")]);
        Assert.That(code, Is.Zero, stderr);

        var before = SafeTensors.Read(P("cnn.safetensors"));
        var after = SafeTensors.Read(P("pruned.safetensors"));
        var masks = SafeTensors.Read(P("mask.safetensors"));
        var tensorMode = Npy.Read(P("W2.npy")).GetData<double>();
        var tensorMask = Npy.Read(P("M2.npy")).GetData<bool>();
        var offsets = new Dictionary<string, (int Offset, int Length)> { ["fc.weight"] = (0, 80), ["conv2.weight"] = (80, 432), ["conv1.weight"] = (512, 54) };
        Assert.Multiple(() =>
        {
            Assert.That(after.Tensors.Select(t => t.Name), Is.EqualTo(before.Tensors.Select(t => t.Name)));
            foreach (var t in before.Tensors)
            {
                var now = after[t.Name];
                Assert.That(now.DType, Is.EqualTo(t.Array.DType), t.Name);
                Assert.That(now.Shape, Is.EqualTo(t.Array.Shape), t.Name);
                if (!offsets.TryGetValue(t.Name, out var at))
                {
                    Assert.That(now.AsBytes().ToArray(), Is.EqualTo(t.Array.AsBytes().ToArray()), $"{t.Name} copied bit-exact");
                    continue;
                }

                var expected = tensorMode.AsSpan(at.Offset, at.Length).ToArray();
                Assert.That(now.ToFloat64(), Is.EqualTo(now.DType == DType.Float32 ? expected.Select(v => (double)(float)v) : expected), $"{t.Name} equals tensor mode");
                Assert.That(masks[t.Name].GetData<bool>(), Is.EqualTo(tensorMask.AsSpan(at.Offset, at.Length).ToArray()), $"{t.Name} mask equals tensor mode's");
                Assert.That(masks[t.Name].Shape, Is.EqualTo(t.Array.Shape));
            }

            Assert.That(after["bn1.num_batches_tracked"].GetData<long>(), Is.EqualTo(new[] { 9007199254740993L }));
            Assert.That(after.Metadata["made_by"], Is.EqualTo("numpy"));
            Assert.That(after.Metadata["format"], Is.EqualTo("pt"));
            Assert.That(tensorMask.Count(k => !k), Is.EqualTo(MaskSelection.TargetCount(0.7, 566)));
        });

        var report = PruningReport.FromJson(File.ReadAllText(P("report.json")));
        Assert.That(report.Layers.Select(l => l.Name), Is.EqualTo(new[] { "fc.weight", "conv2.weight", "conv1.weight" }));
        foreach (var l in report.Layers)
        {
            Assert.That(l.Pruned, Is.EqualTo(masks[l.Name].GetData<bool>().Count(k => !k)), l.Name);
            Assert.That(stdout, Does.Contain(string.Create(CultureInfo.InvariantCulture, $"layer={l.Name} size={l.Size} sparsity={l.Sparsity:0.######}")));
        }

        // And NumPy reads the pruned file back: the counter is intact, the pruned weights are exactly zero.
        var check = Python(SafeTensorsPy + "\n" + $$"""
            t, meta = load_st(r'{{P("pruned.safetensors")}}'); m, _ = load_st(r'{{P("mask.safetensors")}}')
            print(t['bn1.num_batches_tracked'].dtype, int(t['bn1.num_batches_tracked']), all(bool((t[n][~m[n]] == 0).all()) for n in m), meta['woodfisher.pruning'])
            """);
        Assert.That(check, Is.EqualTo("int64 9007199254740993 True woodfisher joint s=0.7"));
    }

    /// <summary>
    /// The README recipe end to end: a small torch CNN with BatchNorm, per-sample gradients by vmap(grad(...)) written as
    /// G.npy and G.json, <c>woodfisher prune</c>, and the result loaded back with <c>load_state_dict(strict=True)</c>.
    /// Skipped when PyTorch is not installed for /usr/bin/python3.
    /// </summary>
    [Test]
    [Category("Interop")]
    public void PyTorchCnn_RoundTrip_LoadsBackStrict()
    {
        const string net = """
            import torch
            from torch import nn
            def make():
                torch.manual_seed(0)
                return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                     nn.Flatten(), nn.Linear(8, 3))
            """;
        Python(SafeTensorsPy + "\n" + net + "\n" + $$"""
            try:
                from torch.func import functional_call, vmap, grad
            except ImportError:  # torch 1.13
                from functorch import vmap, grad
                from torch.nn.utils.stateless import functional_call
            d = r'{{Dir}}'
            model = make()
            x = torch.randn(96, 1, 8, 8); y = torch.randint(0, 3, (96,))
            model.train()
            for _ in range(3): model(x)
            model.eval()
            save_st(d + '/model.safetensors', {k: v.numpy() for k, v in model.state_dict().items()})
            names = [n for n, p in model.named_parameters() if p.dim() > 1]
            state = {**dict(model.named_parameters()), **dict(model.named_buffers())}
            state = {k: v.detach() for k, v in state.items()}
            def loss(w, xi, yi):
                out = functional_call(model, {**state, **w}, (xi.unsqueeze(0),))
                return nn.functional.cross_entropy(out, yi.unsqueeze(0))
            g = vmap(grad(loss), in_dims=(None, 0, 0))({n: state[n] for n in names}, x, y)
            np.save(d + '/G.npy', torch.cat([g[n].reshape(len(x), -1) for n in names], 1).numpy())
            write_layout(d + '/G.json', {n: state[n].numpy() for n in names}, names, len(x))
            """);
        var (code, _, stderr) = Run("prune", "--model", P("model.safetensors"), "--grads", P("G.npy"), "--layout", P("G.json"),
            "--sparsity", "0.5", "--block", "64", "--damping", "1e-4", "--out", P("pruned.safetensors"));
        Assert.That(code, Is.Zero, stderr);
        var result = Python(SafeTensorsPy + "\n" + net + "\n" + $$"""
            t, _ = load_st(r'{{P("pruned.safetensors")}}'); t0, _ = load_st(r'{{P("model.safetensors")}}')
            model = make()
            model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in t.items()}, strict=True)
            w = [p for p in model.parameters() if p.dim() > 1]
            zeros = sum(int((p == 0).sum()) for p in w); total = sum(p.numel() for p in w)
            names = [n for n, p in model.named_parameters() if p.dim() > 1]
            buffers_same = all(np.array_equal(t[k], t0[k]) and t[k].dtype == t0[k].dtype for k in t0 if k not in names)
            model.eval(); out = model(torch.randn(5, 1, 8, 8))
            print(zeros, total, buffers_same, str(model[1].num_batches_tracked.dtype), bool(torch.isfinite(out).all()))
            """);
        Assert.That(result, Is.EqualTo($"{MaskSelection.TargetCount(0.5, 36 + 288 + 24)} 348 True torch.int64 True"));
    }

    /// <summary>grads --layout and prune --layout agree: a built-in model pruned from the files grads wrote equals model mode.</summary>
    [Test]
    public void GradsLayout_ThenPruneLayout_EqualsModelMode()
    {
        var model = TrainedMlp(Dir);
        var (code, _, stderr) = Run("grads", "--model", model, "--data", SliceDir, "--samples", "64", "--out", P("G.npy"), "--layout", P("G.json"));
        Assert.That(code, Is.Zero, stderr);
        var common = new[] { "--sparsity", "0.8", "--method", "woodfisher", "--block", "64", "--damping", "1e-4" };
        (code, _, stderr) = Run(["prune", "--model", model, "--grads", P("G.npy"), "--layout", P("G.json"), .. common, "--out", P("layout.safetensors")]);
        Assert.That(code, Is.Zero, stderr);
        (code, _, stderr) = Run(["prune", "--model", model, "--data", SliceDir, "--samples", "64", .. common, "--out", P("model.safetensors")]);
        Assert.That(code, Is.Zero, stderr);

        var layout = GradientLayout.Read(P("G.json"));
        Assert.That(layout.Names, Is.EqualTo(new[] { "fc1.weight", "fc2.weight" }));
        Assert.That(layout.Rows, Is.EqualTo(64));
        var a = SafeTensors.Read(P("layout.safetensors"));
        var b = SafeTensors.Read(P("model.safetensors"));
        foreach (var name in new[] { "fc1.weight", "fc2.weight", "fc1.bias", "fc2.bias" })
        {
            var x = a[name].GetData<float>();
            var y = b[name].GetData<float>();
            Assert.That(x.Select(v => v == 0), Is.EqualTo(y.Select(v => v == 0)), $"{name}: same mask");
            // Layout mode solves the joint update on F̂⁻¹ stored in float32; model mode, holding the rows as factors, solves
            // the blocks that keep few weights on F̂_KK from the rows in float64. The forms are equal in exact arithmetic;
            // F̂⁻¹'s float32 rounding (times κ(F̂), 64 rows for blocks of 64 at λ = 10⁻⁴) sets the gap: 1.3·10⁻⁵ of max |w| seen.
            var scale = y.Max(Math.Abs);
            Assert.That(x, Is.EqualTo(y).Within(1e-4f * scale), $"{name}: same weights");
        }
    }

    private static IEnumerable<TestCaseData> BadInputs()
    {
        static TestCaseData Case(string name, string[] args, string mention) => new TestCaseData(args, mention).SetName("Layout_" + name + "_FailsWithOneLineAndNoOutput");
        yield return Case("ShapeMismatch", ["--layout", "@badshape.json"], "shape [4, 3] in the model but [3, 4] in the layout");
        yield return Case("MissingTensor", ["--layout", "@missing.json"], "has no tensor of that name");
        yield return Case("IntegerTensor", ["--layout", "@integer.json"], "only F32, F64 and F16");
        yield return Case("GradientColumns", ["--grads", "@wide.npy"], "13 columns but the layout's tensors span d = 12");
        yield return Case("GradientRows", ["--grads", "@short.npy"], "9 rows but the layout says rows = 10");
        yield return Case("GradientIntegers", ["--grads", "@ints.npy"], "expected float32 or float64 rows but the file holds Int32");
        yield return Case("NotJson", ["--layout", "@notjson.json"], "not valid JSON");
        yield return Case("Arch", ["--arch", "mlp:4-3"], "--arch does not apply to layout mode");
        yield return Case("IncludeBias", ["--include-bias"], "--include-bias does not apply");
        yield return Case("KfacWithoutModel", ["--method", "kfac"], "--method kfac needs the model");
        yield return Case("UnknownLayer", ["--layers", "fc9"], "the layout has no tensor 'fc9'");
    }

    [TestCaseSource(nameof(BadInputs))]
    public void Layout_BadInput_FailsWithOneLineAndWritesNothing(string[] overrides, string mention)
    {
        SafeTensors.Write(P("m.safetensors"),
        [
            new("fc.weight", NdArray.Create(new float[12], 4, 3)),
            new("fc.bias", NdArray.Create(new float[4], 4)),
            new("steps", NdArray.Create(new long[12], 4, 3)),
        ]);
        new GradientLayout([new("fc.weight", [4, 3], 0, 12)], rows: 10).Write(P("g.json"));
        new GradientLayout([new("fc.weight", [3, 4], 0, 12)]).Write(P("badshape.json"));
        new GradientLayout([new("fc2.weight", [4, 3], 0, 12)]).Write(P("missing.json"));
        new GradientLayout([new("steps", [4, 3], 0, 12)]).Write(P("integer.json"));
        File.WriteAllText(P("notjson.json"), "{\"segments\": [");
        Npy.Write(P("g.npy"), new float[10 * 12], 10, 12);
        Npy.Write(P("wide.npy"), new float[10 * 13], 10, 13);
        Npy.Write(P("short.npy"), new float[9 * 12], 9, 12);
        Npy.Write(P("ints.npy"), NdArray.Create(new int[10 * 12], 10, 12));
        var inputs = Directory.GetFiles(Dir).Select(Path.GetFileName).ToList();
        var args = new List<string> { "prune", "--model", P("m.safetensors"), "--grads", P("g.npy"), "--layout", P("g.json"), "--sparsity", "0.5", "--out", P("out.safetensors"), "--report", P("r.json") };
        for (var i = 0; i < overrides.Length; i++)
        {
            if (i + 1 == overrides.Length || overrides[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                args.Add(overrides[i]);
                continue;
            }

            // "@name" is a file of this test's directory.
            var value = overrides[i + 1].StartsWith('@') ? P(overrides[i + 1][1..]) : overrides[i + 1];
            var at = args.IndexOf(overrides[i]);
            if (at >= 0)
                args[at + 1] = value;
            else
                args.AddRange([overrides[i], value]);
            i++;
        }

        var (code, stdout, stderr) = Run([.. args]);
        Assert.That(code, Is.Not.Zero);
        Assert.That(stdout, Is.Empty);
        var lines = Lines(stderr).Where(l => !l.Contains(": started", StringComparison.Ordinal)).ToArray();
        Assert.That(lines, Has.Length.EqualTo(1), stderr);
        Assert.That(lines[0], Does.StartWith("woodfisher: ").And.Contain(mention));
        Assert.That(Directory.GetFiles(Dir).Select(Path.GetFileName), Is.EquivalentTo(inputs));
    }
}
