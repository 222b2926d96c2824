namespace WoodFisher.Models.Tests.IO;

/// <summary>Runs interop scripts under Debian's PyTorch; a test is ignored where PyTorch is not installed.</summary>
internal static class Torch
{
    // read_safetensors parses the format itself: the python3-safetensors package is not among the CI's packages.
    private const string Prelude = """
        try:
            import torch
        except ImportError:
            print("no torch"); sys.exit(0)
        def read_safetensors(path):
            with open(path, 'rb') as f:
                n = int.from_bytes(f.read(8), 'little'); header = json.loads(f.read(n)); buf = f.read()
            kinds = {'F32': np.float32, 'I32': np.int32, 'I64': np.int64, 'U8': np.uint8}
            meta = header.pop('__metadata__', {})
            return {k: np.frombuffer(buf[v['data_offsets'][0]:v['data_offsets'][1]], kinds[v['dtype']]).reshape(v['shape']).copy()
                    for k, v in header.items()}, meta
        """;

    /// <summary>
    /// Runs <paramref name="script"/> with np, sys, json and torch imported and <c>read_safetensors(path)</c> → (tensors as
    /// NumPy arrays, metadata) defined; returns its trimmed output.
    /// </summary>
    public static string Run(string script, params string[] args)
    {
        var got = Python.Run(Prelude + "\n" + script, args);
        if (got == "no torch")
            Assert.Ignore("PyTorch is not importable by /usr/bin/python3");
        return got;
    }
}
