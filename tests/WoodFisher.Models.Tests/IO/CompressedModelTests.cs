using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Kernels.Sparse;
using WoodFisher.Models.Inference;
using WoodFisher.Models.Tests.Inference;
using Pruning = WoodFisher.Models.Tests.Inference.InferenceModelTests.Pruning;

namespace WoodFisher.Models.Tests.IO;

/// <summary>Compressed model files: round trips, the formats chosen, hostile files, and PyTorch reading the sparse tensors.</summary>
public sealed class CompressedModelTests
{
    [TestCase("mlp:784-300-100-10", Pruning.Random90, "csr")]
    [TestCase("mlp:784-300-100-10", Pruning.TwoOfFour, "2:4")]
    [TestCase("mlp:784-300-100-10", Pruning.Block4x1, "block:4x1")]
    [TestCase("mlp:784-300-100-10", Pruning.None, "dense")]
    [TestCase("lenet5", Pruning.Random90, "csr")]
    [TestCase("lenet5", Pruning.TwoOfFour, "2:4")]
    public void SaveThenLoad_GivesTheSameWeightsAndLogits(string spec, Pruning pruning, string format)
    {
        using var dir = new TempDir();
        var model = ModelFactory.Create(spec, seed: 2);
        InferenceModelTests.Prune(model, pruning, seed: 3);
        var written = CompressedModelFiles.Save(model, dir.File("c.safetensors"));
        Assert.That(written.First().Matrix.Format, Is.EqualTo(WeightFormats.Parse(format).Kind));

        var loaded = CompressedModelFiles.Load(dir.File("c.safetensors"));
        Assert.That(loaded.Model.Spec, Is.EqualTo(model.Spec));
        foreach (var p in model.Parameters)
            Assert.That(loaded.Model.Parameters.Single(q => q.Name == p.Name).Data, Is.EqualTo(p.Data), p.Name);
        Assert.That(ModelFiles.Load(dir.File("c.safetensors")).Parameters.Select(p => p.Data), Is.EqualTo(model.Parameters.Select(p => p.Data)),
            "ModelFiles.Load expands a compressed file");

        var per = model.InputShape.Aggregate(1, (a, b) => a * b);
        var (x, _) = TestData.Random(9, per, 10, seed: 1);
        using var engine = loaded.CreateEngine();
        var expected = Evaluation.Logits(model, x, 9);
        var actual = engine.Logits(x, 9);
        var scale = 1 + expected.Max(Math.Abs);
        Assert.That(actual, Is.EqualTo(expected).Within(1e-4 * scale));
        Assert.That(engine.Weights[0].Format, Is.EqualTo(format));

        ModelFiles.Save(model, dir.File("d.safetensors"));
        var ratio = (double)new FileInfo(dir.File("c.safetensors")).Length / new FileInfo(dir.File("d.safetensors")).Length;
        var most = pruning switch { Pruning.Random90 => 0.25, Pruning.TwoOfFour => 0.66, Pruning.Block4x1 => 0.15, _ => 1.001 };
        Assert.That(ratio, Is.LessThan(most), "file bytes against the dense file");
    }

    private static IEnumerable<TestCaseData> Corruptions()
    {
        yield return new TestCaseData(Pruning.Random90, "fc1.weight.col_indices", 5, 784, "outside [0, 784)").SetName("Csr_ColumnOutOfRange");
        yield return new TestCaseData(Pruning.Random90, "fc1.weight.col_indices", 5, -1, "outside [0, 784)").SetName("Csr_NegativeColumn");
        yield return new TestCaseData(Pruning.Random90, "fc1.weight.crow_indices", 7, 0, "is below row pointer").SetName("Csr_PointersDecrease");
        yield return new TestCaseData(Pruning.Random90, "fc1.weight.col_indices", 1, 0, "columns must ascend").SetName("Csr_ColumnsOutOfOrder");
        yield return new TestCaseData(Pruning.TwoOfFour, "fc1.weight.offsets", 3, 4, "outside its group of 4").SetName("NofM_OffsetOutsideGroup");
        yield return new TestCaseData(Pruning.Block4x1, "fc1.weight.col_indices", 2, 0, "block columns must ascend").SetName("Block_ColumnsOutOfOrder");
        yield return new TestCaseData(Pruning.Block4x1, "fc1.weight.crow_indices", 75, int.MaxValue, "Row pointers must run").SetName("Block_LastPointerWrong");
    }

    [TestCaseSource(nameof(Corruptions))]
    public void CorruptEntry_IsRefused_NamingFileTensorAndByte(Pruning pruning, string tensor, int index, int value, string reason)
    {
        using var dir = new TempDir();
        var path = Write(dir, pruning);
        var file = SafeTensors.Read(path);
        var array = file[tensor];
        if (array.DType == DType.UInt8)
            array.GetData<byte>()[index] = (byte)value;
        else
            array.GetData<int>()[index] = value;
        SafeTensors.Write(path, file.Tensors, file.Metadata);

        var at = SafeTensors.Read(path).DataOffset(tensor) + (index * array.DType.ItemSize());
        foreach (var load in new Action[] { () => CompressedModelFiles.Load(path), () => ModelFiles.Load(path) })
        {
            var ex = Assert.Throws<InvalidDataException>(() => load())!;
            Assert.That(ex.Message, Does.StartWith(path).And.Contain($"'{tensor}'").And.Contain(reason));
            if (!reason.StartsWith("Row pointers", StringComparison.Ordinal))
                Assert.That(ex.Message, Does.Contain($"at byte {at} (entry {index})"));
        }
    }

    private static IEnumerable<TestCaseData> BadDescriptions()
    {
        yield return new TestCaseData("{", "not valid JSON").SetName("Description_NotJson");
        yield return new TestCaseData("[]", "not a JSON object").SetName("Description_NotAnObject");
        yield return new TestCaseData("""{"fc1.weight": {"format": "csr"}}""", "must be").SetName("Entry_NoShape");
        yield return new TestCaseData("""{"fc1.weight": {"format": "zip", "shape": [300, 784]}}""", "not a weight format").SetName("Entry_UnknownFormat");
        yield return new TestCaseData("""{"fc1.weight": {"format": "dense", "shape": [300, 784]}}""", "plain tensors").SetName("Entry_Dense");
        yield return new TestCaseData("""{"fc1.weight": {"format": "csr", "shape": [300, 0]}}""", "between 1 and").SetName("Entry_ZeroDimension");
        yield return new TestCaseData("""{"fc1.weight": {"format": "csr", "shape": [300, 785]}}""", "'fc1.weight' has shape [300,785], the model expects [300,784]").SetName("Entry_ShapeDisagrees");
        yield return new TestCaseData("""{"fc1.weight": {"format": "csr", "shape": [301, 784]}}""", "'fc1.weight.crow_indices' is Int32[301], expected Int32[302]").SetName("Entry_RowsDisagree");
        yield return new TestCaseData("""{"fc1.weight": {"format": "2:4", "shape": [300, 784]}}""", "'fc1.weight.values' is Float32[23337], expected Float32[300, 392]").SetName("Entry_FormatDisagrees");
        yield return new TestCaseData("""{"fc9.weight": {"format": "csr", "shape": [300, 784]}}""", "'fc9.weight.crow_indices' is missing").SetName("Entry_UnknownWeight");
    }

    [TestCaseSource(nameof(BadDescriptions))]
    public void BadDescription_IsRefused(string description, string reason)
    {
        using var dir = new TempDir();
        var path = Write(dir, Pruning.Random90);
        var file = SafeTensors.Read(path);
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        meta[SparseTensors.MetadataKey] = description;
        SafeTensors.Write(path, file.Tensors, meta);
        var ex = Assert.Throws<InvalidDataException>(() => CompressedModelFiles.Load(path))!;
        Assert.That(ex.Message, Does.StartWith(path).And.Contain(reason));
    }

    [Test]
    public void WrongDType_AndShapeForTheModel_AreRefused()
    {
        using var dir = new TempDir();
        var path = Write(dir, Pruning.TwoOfFour);
        var file = SafeTensors.Read(path);
        var tensors = file.Tensors.Select(t => t.Name == "fc2.weight.offsets"
            ? new NamedArray(t.Name, NdArray.Create(Array.ConvertAll(t.Array.GetData<byte>(), b => (int)b), t.Array.ShapeInt64()))
            : t).ToList();
        SafeTensors.Write(path, tensors, file.Metadata);
        Assert.That(() => CompressedModelFiles.Load(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains("'fc2.weight.offsets' is Int32[100, 150], expected UInt8[100, 150]"));

        // A valid sparse weight whose shape the architecture does not have.
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 2);
        InferenceModelTests.Prune(model, Pruning.Random90, 1);
        CompressedModelFiles.Save(model, path);
        file = SafeTensors.Read(path);
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        meta[ModelFiles.ArchKey] = "mlp:784-300-100-7";
        SafeTensors.Write(path, file.Tensors, meta);
        Assert.That(() => CompressedModelFiles.Load(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains("fc3"));
    }

    [Test]
    public void HugeDeclaredShape_IsRefusedBeforeAllocating()
    {
        using var dir = new TempDir();
        var path = dir.File("huge.safetensors");
        // 2 billion rows × 2 billion inputs and no stored value: the row pointers alone are 8 GB, so the file cannot
        // hold them; a shape the arrays do fit is refused by the budget before the dense copy.
        var tensors = new List<NamedArray>
        {
            new("w.crow_indices", NdArray.Create(new int[5])),
            new("w.col_indices", NdArray.Create(Array.Empty<int>())),
            new("w.values", NdArray.Create(Array.Empty<float>())),
        };
        var meta = new Dictionary<string, string> { [SparseTensors.MetadataKey] = """{"w": {"format": "csr", "shape": [2000000000, 2000000000]}}""" };
        SafeTensors.Write(path, tensors, meta);
        Assert.That(() => SparseTensors.Read(SafeTensors.Read(path), path), Throws.TypeOf<InvalidDataException>().With.Message.Contains("expected Int32[2000000001]"));

        meta[SparseTensors.MetadataKey] = """{"w": {"format": "csr", "shape": [4, 2000000000]}}""";
        SafeTensors.Write(path, tensors, meta);
        using var budget = MemoryBudget.Override(1 << 20);
        Assert.That(() => SparseTensors.Expand(SafeTensors.Read(path), path), Throws.TypeOf<InsufficientMemoryException>());
    }

    [Test]
    [Category("Interop")]
    public void SparseTensors_AreReadByPyTorch()
    {
        using var dir = new TempDir();
        var model = ModelFactory.Create("lenet5", seed: 2);
        InferenceModelTests.Prune(model, Pruning.Random90, seed: 3);
        CompressedModelFiles.Save(model, dir.File("csr.safetensors"));
        InferenceModelTests.Prune(model, Pruning.Block4x1, seed: 3);
        CompressedModelFiles.Save(model, dir.File("bsr.safetensors"), (_, d, r, c) => WeightFormats.Create("block:4x1", d, r, c));
        var csr = SafeTensors.Read(dir.File("csr.safetensors"));
        var got = Torch.Run("""
            out = []
            for path in sys.argv[1:3]:
                t, meta = read_safetensors(path)
                sparse = json.loads(meta['woodfisher.sparse'])
                for name, e in sparse.items():
                    rows, cols = e['shape'][0], int(np.prod(e['shape'][1:]))
                    crow, col, val = (torch.from_numpy(t[name + s].copy()) for s in ('.crow_indices', '.col_indices', '.values'))
                    if e['format'] == 'csr':
                        m = torch.sparse_csr_tensor(crow, col, val, (rows, cols))
                    else:
                        m = torch.sparse_bsr_tensor(crow, col, val, (-(-rows // 4) * 4, cols))
                    out.append([name, e['format'], m.to_dense()[:rows].reshape(e['shape']).numpy().tobytes().hex()])
            print(json.dumps(out))
            """, dir.File("csr.safetensors"), dir.File("bsr.safetensors"));
        var rows = System.Text.Json.JsonSerializer.Deserialize<string[][]>(got)!;
        Assert.That(rows, Has.Length.EqualTo(10), "five weights of LeNet-5 in each file");
        var csrModel = ModelFactory.Create("lenet5", seed: 2);
        InferenceModelTests.Prune(csrModel, Pruning.Random90, seed: 3);
        foreach (var r in rows)
        {
            var expected = r[1] == "csr" ? csrModel.Parameters.Single(p => p.Name == r[0]).Data : model.Parameters.Single(p => p.Name == r[0]).Data;
            Assert.That(Convert.FromHexString(r[2]), Is.EqualTo(NdArray.Create(expected).AsBytes().ToArray()), $"{r[1]} {r[0]} read by PyTorch");
        }
        Assert.That(csr.Metadata[ModelFiles.ArchKey], Is.EqualTo("lenet5:1x28x28"));
    }

    [Test]
    [Category("Interop")]
    public void FileWrittenByPyTorch_IsRead()
    {
        // PyTorch builds the sparse tensors (to_sparse_csr, to_sparse_bsr: int64 indices, fc3's cast to int32) from the
        // dense weights of a file written here and writes its own safetensors file, which must load as the same model.
        using var dir = new TempDir();
        var model = ModelFactory.Create("lenet5", seed: 2);
        InferenceModelTests.Prune(model, Pruning.Random90, seed: 3);
        ModelFiles.Save(model, dir.File("dense.safetensors"));
        var got = Torch.Run("""
            dense, meta = read_safetensors(sys.argv[1])
            names = {torch.float32: 'F32', torch.int64: 'I64', torch.int32: 'I32'}
            out, sparse = [], {}
            for k, v in dense.items():
                a = torch.from_numpy(v)
                if not k.endswith('.weight'):
                    out.append((k, a)); continue
                m = a.reshape(a.shape[0], -1)
                s, fmt = (m.to_sparse_bsr((4, 1)), 'block:4x1') if k in ('conv2.weight', 'fc2.weight') else (m.to_sparse_csr(), 'csr')
                crow, col = s.crow_indices(), s.col_indices()
                if k == 'fc3.weight':
                    crow, col = crow.to(torch.int32), col.to(torch.int32)
                out += [(k + '.crow_indices', crow), (k + '.col_indices', col), (k + '.values', s.values())]
                sparse[k] = {'format': fmt, 'shape': list(a.shape)}
            meta['woodfisher.sparse'] = json.dumps(sparse)
            head, blobs, at = {'__metadata__': meta}, [], 0
            for k, t in out:
                b = t.contiguous().numpy().tobytes()
                head[k] = {'dtype': names[t.dtype], 'shape': list(t.shape), 'data_offsets': [at, at + len(b)]}
                blobs.append(b); at += len(b)
            h = json.dumps(head).encode(); h += b' ' * (-len(h) % 8)
            with open(sys.argv[2], 'wb') as f:
                f.write(len(h).to_bytes(8, 'little')); f.write(h); f.write(b''.join(blobs))
            print(json.dumps(sparse))
            """, dir.File("dense.safetensors"), dir.File("torch.safetensors"));

        Assert.That(SafeTensors.Read(dir.File("torch.safetensors"))["fc1.weight.col_indices"].DType, Is.EqualTo(DType.Int64), "PyTorch's own index type");
        var loaded = CompressedModelFiles.Load(dir.File("torch.safetensors"));
        Assert.That(loaded.Weights.Select(w => (w.Name, WeightFormats.Name(w.Matrix))), Is.EquivalentTo(new[]
        {
            ("conv1.weight", "csr"), ("conv2.weight", "block:4x1"), ("fc1.weight", "csr"), ("fc2.weight", "block:4x1"), ("fc3.weight", "csr"),
        }));
        foreach (var p in model.Parameters)
            Assert.That(loaded.Model.Parameters.Single(q => q.Name == p.Name).Data, Is.EqualTo(p.Data), p.Name);
        var (x, _) = TestData.Random(5, 784, 10, seed: 4);
        using var engine = loaded.CreateEngine();
        var expected = Evaluation.Logits(model, x, 5);
        Assert.That(engine.Logits(x, 5), Is.EqualTo(expected).Within(1e-4 * (1 + expected.Max(Math.Abs))), "the sparse engine on PyTorch's tensors");
    }

    [Test]
    public void Int64IndexBeyond32Bits_IsRefusedNamingTheByte()
    {
        using var dir = new TempDir();
        var path = Write(dir, Pruning.Random90);
        var file = SafeTensors.Read(path);
        var tensors = file.Tensors.Select(t => t.Name == "fc2.weight.col_indices"
            ? new NamedArray(t.Name, NdArray.Create(Array.ConvertAll(t.Array.GetData<int>(), i => (long)i), t.Array.ShapeInt64()))
            : t).ToList();
        tensors.Single(t => t.Name == "fc2.weight.col_indices").Array.GetData<long>()[2] = 1L << 40;
        SafeTensors.Write(path, tensors, file.Metadata);
        var at = SafeTensors.Read(path).DataOffset("fc2.weight.col_indices") + 16;
        Assert.That(() => CompressedModelFiles.Load(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains(
            $"'fc2.weight.col_indices' at byte {at} (entry 2): index {1L << 40} does not fit 32 bits"));
    }

    private static string Write(TempDir dir, Pruning pruning)
    {
        var model = ModelFactory.Create("mlp:784-300-100-10", seed: 2);
        InferenceModelTests.Prune(model, pruning, seed: 3);
        var path = dir.File("c.safetensors");
        CompressedModelFiles.Save(model, path);
        return path;
    }
}
