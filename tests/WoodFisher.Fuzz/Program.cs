using SharpFuzz;
using WoodFisher.Fuzz;
using WoodFisher.Kernels;

// woodfisher-fuzz TARGET            run under afl-fuzz (persistent mode; see run.sh)
// woodfisher-fuzz TARGET FILE...    replay inputs once each and report the first that escapes the promised exceptions
if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: woodfisher-fuzz {string.Join('|', FuzzTargets.All.Keys)} [FILE...]");
    return 2;
}

MemoryBudget.SetLimit(FuzzTargets.Budget);
if (args.Length > 1)
{
    foreach (var file in args.Skip(1))
    {
        target(File.ReadAllBytes(file));
    }

    Console.WriteLine($"{args.Length - 1} inputs replayed, none escaped");
    return 0;
}

var buffer = new MemoryStream();
Fuzzer.Run(stream =>
{
    buffer.SetLength(0);
    stream.CopyTo(buffer);
    target(buffer.ToArray());
});
return 0;
