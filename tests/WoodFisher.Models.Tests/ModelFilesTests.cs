using WoodFisher.IO;
using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests;

public class ModelFilesTests
{
    private static float[] Inputs(int n, int features, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n * features];
        for (var i = 0; i < x.Length; i++)
            x[i] = (float)rng.NextDouble();
        return x;
    }

    [TestCase("mlp:20-16-8-5")]
    [TestCase("mlp:20-16-5:nobias")]
    [TestCase("lenet5")]
    public void SaveThenLoad_GivesTheSameSpecStateAndLogits(string spec)
    {
        using var dir = new TempDir();
        var model = ModelFactory.Create(spec, seed: 3);
        var path = dir.File("m.safetensors");
        ModelFiles.Save(model, path, new Dictionary<string, string> { ["note"] = "x" });

        var file = SafeTensors.Read(path);
        Assert.That(file.Metadata[ModelFiles.ArchKey], Is.EqualTo(model.Spec));
        Assert.That(file.Metadata["note"], Is.EqualTo("x"));
        Assert.That(file.Tensors.Select(t => t.Array.DType), Is.All.EqualTo(DType.Float32));

        var loaded = ModelFiles.Load(path);
        Assert.That(loaded.Spec, Is.EqualTo(model.Spec));
        var features = model.InputShape.Aggregate(1, (a, b) => a * b);
        var x = Inputs(4, features, 1);
        Assert.That(Evaluation.Logits(loaded, x, 4), Is.EqualTo(Evaluation.Logits(model, x, 4)));
    }

    [Test]
    public void SaveThenLoad_ResNet20_KeepsBatchNormBuffers_NumBatchesTrackedAsInt64()
    {
        using var dir = new TempDir();
        var model = ModelFactory.Create("resnet20:1x8x8", seed: 1);
        var state = model.StateDict();
        var mean = state.Keys.First(k => k.EndsWith("running_mean", StringComparison.Ordinal));
        state[mean].Data[0] = 0.25f;
        model.LoadStateDict(state);
        var path = dir.File("r.safetensors");
        ModelFiles.Save(model, path);

        var tracked = SafeTensors.Read(path).Tensors.Where(t => t.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToList();
        Assert.That(tracked, Is.Not.Empty);
        Assert.That(tracked.Select(t => t.Array.DType), Is.All.EqualTo(DType.Int64));
        var back = ModelFiles.Load(path).StateDict();
        Assert.That(back.Keys, Is.EqualTo(state.Keys));
        foreach (var k in state.Keys)
            Assert.That(back[k].Data, Is.EqualTo(state[k].Data), k);
    }

    [Test]
    public void Load_WithoutMetadata_RecognisesAnMlp_AndArchArgumentOverridesMetadata()
    {
        using var dir = new TempDir();
        var model = ModelFactory.Create("mlp:6-4-3", seed: 2);
        var path = dir.File("plain.safetensors");
        SafeTensors.Write(path, model.StateDict().Select(kv => new NamedArray(kv.Key, NdArray.Create(kv.Value.Data, kv.Value.Shape.Select(d => (long)d).ToArray()))));
        Assert.That(ModelFiles.Load(path).Spec, Is.EqualTo("mlp:6-4-3"));
        Assert.That(ModelFiles.Load(path, "mlp:6-4-3").Spec, Is.EqualTo("mlp:6-4-3"));
    }

    [Test]
    public void Load_ShapeMismatch_NamesTheTensorAndTheFile()
    {
        using var dir = new TempDir();
        var path = dir.File("m.safetensors");
        ModelFiles.Save(ModelFactory.Create("mlp:6-4-3"), path);
        var ex = Assert.Throws<InvalidDataException>(() => ModelFiles.Load(path, "mlp:6-5-3"));
        Assert.That(ex!.Message, Does.Contain("fc1.weight").And.Contain("m.safetensors").And.Contain("[4,6]"));
    }

    [Test]
    public void Load_UnknownLayout_WithoutArch_AsksForArch()
    {
        using var dir = new TempDir();
        var path = dir.File("cnn.safetensors");
        var lenet = ModelFactory.Create("lenet5");
        SafeTensors.Write(path, lenet.StateDict().Select(kv => new NamedArray(kv.Key, NdArray.Create(kv.Value.Data, kv.Value.Shape.Select(d => (long)d).ToArray()))));
        var ex = Assert.Throws<InvalidDataException>(() => ModelFiles.Load(path));
        Assert.That(ex!.Message, Does.StartWith($"cannot tell the architecture of {path}: pass --arch"));
        Assert.That(ModelFiles.Load(path, "lenet5").Spec, Does.StartWith("lenet5"));
    }

    [TestCase("mlp:784-x-10")]
    [TestCase("vgg16")]
    public void CreateModel_BadSpec_NamesTheSpec(string spec)
    {
        var ex = Assert.Throws<FormatException>(() => ModelFiles.CreateModel(spec));
        Assert.That(ex!.Message, Does.Contain($"'{spec}'"));
    }

    [Test]
    [Category("Interop")]
    public void SafetensorsWrittenByNumPy_InPyTorchLayout_LoadsAsMlp_AndMatchesNumPyLogits()
    {
        using var dir = new TempDir();
        // The writer follows the safetensors spec by hand (8-byte LE header length, JSON header, raw buffer), as
        // safetensors.numpy.save_file does; the oracle is a ReLU MLP forward x·W1ᵀ + b1 → relu → … in float64.
        Python.Run("""
            d = sys.argv[1]
            rng = np.random.default_rng(11)
            sizes = [20, 16, 8, 5]
            tensors = {}
            for i in range(len(sizes) - 1):
                tensors[f'fc{i+1}.weight'] = (rng.standard_normal((sizes[i+1], sizes[i])) / np.sqrt(sizes[i])).astype('<f4')
                tensors[f'fc{i+1}.bias'] = (0.1 * rng.standard_normal(sizes[i+1])).astype('<f4')
            header, buf, off = {}, b'', 0
            for name, a in tensors.items():
                raw = a.tobytes()
                header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + len(raw)]}
                buf += raw
                off += len(raw)
            header['__metadata__'] = {'format': 'pt'}
            h = json.dumps(header).encode()
            h += b' ' * (-len(h) % 8)
            with open(d + '/mlp.safetensors', 'wb') as f:
                f.write(len(h).to_bytes(8, 'little')); f.write(h); f.write(buf)
            x = rng.random((6, 20)).astype('<f4')
            a = x.astype(np.float64)
            for i in range(len(sizes) - 1):
                a = a @ tensors[f'fc{i+1}.weight'].astype(np.float64).T + tensors[f'fc{i+1}.bias']
                if i < len(sizes) - 2:
                    a = np.maximum(a, 0)
            np.save(d + '/x.npy', x)
            np.save(d + '/logits.npy', a)
            """, dir.Path);

        var model = ModelFiles.Load(dir.File("mlp.safetensors"));
        Assert.That(model.Spec, Is.EqualTo("mlp:20-16-8-5"));
        var x = Npy.ReadFloat32(dir.File("x.npy"), 6, 20).GetData<float>();
        var expected = Npy.ReadFloat64(dir.File("logits.npy"), 6, 5).GetData<double>();
        var got = Evaluation.Logits(model, x, 6);
        // float32 forward of 20-wide dot products vs a float64 oracle on the same float32 weights: ~1e-6 relative.
        for (var i = 0; i < expected.Length; i++)
            Assert.That(got[i], Is.EqualTo(expected[i]).Within(1e-5 * (1 + Math.Abs(expected[i]))), $"logit {i}");
    }
}
