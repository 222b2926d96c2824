using WoodFisher.IO;

namespace WoodFisher.Models.Tests.IO;

/// <summary>Cross-checks against a real NumPy (Debian's, for /usr/bin/python3); ignored when it is missing.</summary>
[Category("Interop")]
public class NumPyInteropTests
{
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void Npy_WrittenHere_IsReadByNumPy_BitExact(int version)
    {
        using var dir = new TempDir();
        var data = Enumerable.Range(0, 24).Select(i => Math.Exp(i) * (i % 2 == 0 ? 1 : -1)).ToArray();
        Npy.Write(dir.File("d.npy"), NdArray.Create(data, 2, 3, 4), version);
        Npy.Write(dir.File("m.npy"), NdArray.Create(new[] { true, false, true }), version);
        Npy.Write(dir.File("i.npy"), NdArray.Create(new[] { int.MinValue, 0, int.MaxValue }), version);
        var got = Python.Run("""
            d = np.load(sys.argv[1]); m = np.load(sys.argv[2]); i = np.load(sys.argv[3])
            print(json.dumps([d.dtype.str, list(d.shape), d.tobytes().hex(), m.dtype.str, m.tolist(), i.dtype.str, i.tolist()]))
            """, dir.File("d.npy"), dir.File("m.npy"), dir.File("i.npy"));
        var expectedHex = Convert.ToHexStringLower(NdArray.Create(data).AsBytes());
        Assert.That(got, Is.EqualTo($"[\"<f8\", [2, 3, 4], \"{expectedHex}\", \"|b1\", [true, false, true], \"<i4\", [{int.MinValue}, 0, {int.MaxValue}]]"));
    }

    [Test]
    public void Npy_WrittenByNumPy_IsReadHere_AllDTypes()
    {
        using var dir = new TempDir();
        Python.Run("""
            d = sys.argv[1]
            rng = np.random.default_rng(7)
            np.save(d + '/f4.npy', rng.standard_normal((5, 3)).astype('<f4'))
            np.save(d + '/f8.npy', rng.standard_normal((4,)))
            np.save(d + '/i4.npy', np.arange(-3, 3, dtype='<i4').reshape(2, 3))
            np.save(d + '/i8.npy', np.array([2**40, -1], dtype='<i8'))
            np.save(d + '/b1.npy', np.array([[True], [False]]))
            np.save(d + '/u1.npy', np.arange(256, dtype='u1'))
            np.save(d + '/s.npy', np.float64(3.5))
            np.save(d + '/fortran.npy', np.asfortranarray(np.ones((2, 3))))
            np.save(d + '/be.npy', np.ones(3, dtype='>f8'))
            with open(d + '/v2.npy', 'wb') as f:
                np.lib.format.write_array(f, np.arange(6, dtype='<f8').reshape(3, 2), version=(2, 0))
            for n in ['f4', 'f8', 'i4', 'i8', 'b1', 'u1']:
                np.load(d + '/' + n + '.npy').tofile(d + '/' + n + '.raw')
            """, dir.Path);
        foreach (var (name, dtype) in new[] { ("f4", DType.Float32), ("f8", DType.Float64), ("i4", DType.Int32), ("i8", DType.Int64), ("b1", DType.Bool), ("u1", DType.UInt8) })
        {
            var a = Npy.Read(dir.File(name + ".npy"));
            Assert.That(a.DType, Is.EqualTo(dtype), name);
            Assert.That(a.AsBytes().ToArray(), Is.EqualTo(File.ReadAllBytes(dir.File(name + ".raw"))), name);
        }
        Assert.Multiple(() =>
        {
            Assert.That(Npy.Read(dir.File("f4.npy")).Shape, Is.EqualTo(new long[] { 5, 3 }));
            Assert.That(Npy.Read(dir.File("b1.npy")).Shape, Is.EqualTo(new long[] { 2, 1 }));
            Assert.That(Npy.Read(dir.File("s.npy")).Rank, Is.Zero);
            var v2 = Npy.Read(dir.File("v2.npy"));
            Assert.That(File.ReadAllBytes(dir.File("v2.npy"))[6], Is.EqualTo(2));
            Assert.That(v2.GetData<double>(), Is.EqualTo(new double[] { 0, 1, 2, 3, 4, 5 }));
            Assert.Throws<NotSupportedException>(() => Npy.Read(dir.File("fortran.npy")));
            Assert.Throws<NotSupportedException>(() => Npy.Read(dir.File("be.npy")));
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Npz_WrittenHere_IsReadByNumPy(bool compress)
    {
        using var dir = new TempDir();
        var path = dir.File("a.npz");
        Npz.Write(path, [new("w", NdArray.Create(new float[] { 1, 2, 3, 4 }, 2, 2)), new("mask", NdArray.Create(new[] { true, false }))], compress);
        var got = Python.Run("""
            z = np.load(sys.argv[1])
            print(json.dumps([sorted(z.files), z['w'].dtype.str, z['w'].tolist(), z['mask'].tolist()]))
            """, path);
        Assert.That(got, Is.EqualTo("[[\"mask\", \"w\"], \"<f4\", [[1.0, 2.0], [3.0, 4.0]], [true, false]]"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Npz_WrittenByNumPy_IsReadHere(bool compressed)
    {
        using var dir = new TempDir();
        var path = dir.File("n.npz");
        Python.Run("""
            f = np.savez_compressed if sys.argv[2] == 'True' else np.savez
            f(sys.argv[1], grads=np.arange(12, dtype='<f4').reshape(3, 4), labels=np.array([3, 1, 4], dtype='<i8'))
            """, path, compressed.ToString());
        var arrays = Npz.Read(path).ToDictionary(a => a.Name, a => a.Array);
        Assert.That(arrays.Keys, Is.EquivalentTo(new[] { "grads", "labels" }));
        Assert.That(arrays["grads"].GetData<float>(), Is.EqualTo(Enumerable.Range(0, 12).Select(i => (float)i).ToArray()));
        Assert.That(arrays["grads"].Shape, Is.EqualTo(new long[] { 3, 4 }));
        Assert.That(arrays["labels"].GetData<long>(), Is.EqualTo(new long[] { 3, 1, 4 }));
    }

    /// <summary>NumPy has no safetensors reader; a 10-line one following the spec (json header + np.frombuffer) cross-checks ours.</summary>
    private const string PySafetensorsReader = """
        def read_st(path):
            b = open(path, 'rb').read()
            n = int.from_bytes(b[:8], 'little')
            h = json.loads(b[8:8 + n].decode('utf-8'))
            meta = h.pop('__metadata__', {})
            dt = {'F32': '<f4', 'F64': '<f8', 'F16': '<f2', 'I32': '<i4', 'I64': '<i8', 'BOOL': '|b1', 'U8': '|u1'}
            buf = b[8 + n:]
            return meta, {k: np.frombuffer(buf[v['data_offsets'][0]:v['data_offsets'][1]], dtype=dt[v['dtype']]).reshape(v['shape']) for k, v in h.items()}
        def write_st(path, tensors, meta):
            dt = {'<f4': 'F32', '<f8': 'F64', '<f2': 'F16', '<i4': 'I32', '<i8': 'I64', '|b1': 'BOOL', '|u1': 'U8'}
            h, off, bufs = {'__metadata__': meta}, 0, []
            for k, a in tensors.items():
                raw = np.ascontiguousarray(a).tobytes()
                h[k] = {'dtype': dt[a.dtype.str], 'shape': list(a.shape), 'data_offsets': [off, off + len(raw)]}
                off += len(raw); bufs.append(raw)
            hb = json.dumps(h).encode('utf-8'); hb += b' ' * (-len(hb) % 8)
            open(path, 'wb').write(len(hb).to_bytes(8, 'little') + hb + b''.join(bufs))
        """;

    [Test]
    public void SafeTensors_WrittenHere_IsReadBySpecReader()
    {
        using var dir = new TempDir();
        var path = dir.File("w.safetensors");
        SafeTensors.Write(path,
            [new("fc1.weight", NdArray.Create(new float[] { 0.5f, -1, 2, 3, 4, 5 }, 2, 3)), new("fc1.bias", NdArray.Create(new double[] { 1e-3, 7 }))],
            new Dictionary<string, string> { ["format"] = "pt" });
        var got = Python.Run(PySafetensorsReader + """

            meta, t = read_st(sys.argv[1])
            print(json.dumps([meta, t['fc1.weight'].dtype.str, t['fc1.weight'].tolist(), t['fc1.bias'].tolist()]))
            """, path);
        Assert.That(got, Is.EqualTo("[{\"format\": \"pt\"}, \"<f4\", [[0.5, -1.0, 2.0], [3.0, 4.0, 5.0]], [0.001, 7.0]]"));
    }

    [Test]
    public void SafeTensors_WrittenBySpecWriter_IsReadHere()
    {
        using var dir = new TempDir();
        var path = dir.File("p.safetensors");
        Python.Run(PySafetensorsReader + """

            write_st(sys.argv[1], {'a': np.arange(6, dtype='<f4').reshape(2, 3), 'h': np.array([0.5, -2], dtype='<f2'),
                                   'n': np.array([5], dtype='<i8'), 'z': np.zeros((0, 4), dtype='<f8')}, {'source': 'numpy'})
            """, path);
        var f = SafeTensors.Read(path);
        Assert.Multiple(() =>
        {
            Assert.That(f["a"].GetData<float>(), Is.EqualTo(new float[] { 0, 1, 2, 3, 4, 5 }));
            Assert.That(f["a"].Shape, Is.EqualTo(new long[] { 2, 3 }));
            Assert.That(f["h"].ToFloat32(), Is.EqualTo(new float[] { 0.5f, -2 }));
            Assert.That(f["n"].GetData<long>(), Is.EqualTo(new long[] { 5 }));
            Assert.That(f["z"].Shape, Is.EqualTo(new long[] { 0, 4 }));
            Assert.That(f.Metadata["source"], Is.EqualTo("numpy"));
        });
    }
}
