using System.Diagnostics;
using System.Globalization;
using WoodFisher.Fidelity;
using WoodFisher.Models.Data;
using WoodFisher.Pruning;

// The fidelity table of docs/fidelity.md, on the models bench/pytorch/fidelity_models.py makes:
//   dotnet run -c Release --project bench/WoodFisher.Fidelity -- [--models out/fidelity] [--out docs/fidelity]
//       [--only mlp,cnn,bncnn,lenet5] [--parts grads,oneshot,defaults,blocks,recompute,tensor,gradual,report] (or cost, gradual-reset)
//       [--sparsity 0.8,0.9,0.95,0.98] [--block 400] [--blocks 100,200] [--samples 1000]
//       [--recompute-at 0.95,0.98] [--gradual-at 0.95,0.98] [--seeds 0,1,2] [--gradual-block 400]
//       [--gradual-variants joint,none,independent+fresh,joint+fresh+mb16+every2]  (update, fresh = Fisher samples drawn
//       per step, mbB = B samples per gradient row, everyK = K epochs between pruning steps, recK = K OBS steps per
//       pruning step, rowsM = M gradient rows per estimate) [--validation 10000] (gradual rows scored on the last N
//       training images, the others used for fine-tuning and estimates: part gradual-val)
// Rows are appended to OUT/results.csv as runs finish; a rerun skips rows already there. `report` writes OUT/table.md
// and one PNG per model from the CSV.
var a = Args.Parse(args);
Directory.CreateDirectory(a.Out);
var results = new Results(Path.Combine(a.Out, "results.csv"));
var clock = Stopwatch.StartNew();
var train = DataSets.Load(null, "train");
var test = DataSets.Load(null, "test");
Console.WriteLine($"data: {train.Count} train, {test.Count} test; load {Load()}");
foreach (var name in a.Models)
{
    if (!File.Exists(Path.Combine(a.ModelDir, name + ".safetensors")))
    {
        Console.WriteLine($"{name}: no {name}.safetensors in {a.ModelDir}; run bench/pytorch/fidelity_models.py make first");
        continue;
    }

    var runs = new ModelRuns(name, a.ModelDir, train, test, results, a.Samples);
    Console.WriteLine($"== {name} ({runs.Spec}) at {clock.Elapsed.TotalMinutes:0.0} min, load {Load()}");
    runs.Dense();
    if (a.Parts.Contains("grads"))
    {
        runs.CompareGradients(train);
    }

    foreach (var s in a.Sparsities)
    {
        if (a.Parts.Contains("oneshot"))
        {
            runs.OneShot(s, a.Block);
        }

        if (a.Parts.Contains("defaults"))
        {
            runs.Defaults(s);
        }

        if (a.Parts.Contains("cost"))
        {
            runs.Cost(s, 5);
        }

        if (a.Parts.Contains("blocks"))
        {
            runs.Blocks(s, a.Blocks.Where(c => c != a.Block));
        }

        if (a.Parts.Contains("tensor"))
        {
            runs.Tensor(s, a.Block);
        }

        if (a.Parts.Contains("recompute") && a.RecomputeAt.Contains(s))
        {
            runs.Recompute(s, a.Block, 16);
        }

        if (a.Parts.Contains("gradual") && a.GradualAt.Contains(s))
        {
            // --validation N: fine-tune and estimate on the first 60,000 − N training images and score on the last N
            // (rows "gradual-val"), so that a variant is chosen without the test set.
            var gradual = a.Validation > 0
                ? new GradualRuns(name, a.ModelDir, train.Slice(0, train.Count - a.Validation), train.Slice(train.Count - a.Validation, a.Validation), results, a.Samples, Path.Combine(a.Out, "gradual-val-curves.csv"), "gradual-val")
                : new GradualRuns(name, a.ModelDir, train, test, results, a.Samples, Path.Combine(a.Out, "gradual-curves.csv"));
            var epochs = s >= 0.98 ? 10 : 6;
            foreach (var seed in a.Seeds)
            {
                foreach (var every in a.GradualVariants.Select(v => v.Every).Distinct())
                {
                    gradual.Run("magnitude", s, epochs, a.GradualBlock, new GradualVariant(seed, Every: every));
                }

                foreach (var variant in a.GradualVariants)
                {
                    gradual.Run("woodfisher", s, epochs, a.GradualBlock, variant with { Seed = seed });
                }

                if (a.Parts.Contains("gradual-reset"))
                {
                    gradual.Run("magnitude", s, epochs, a.GradualBlock, new GradualVariant(seed, ResetMomentum: true));
                    gradual.Run("woodfisher", s, epochs, a.GradualBlock, new GradualVariant(seed, ResetMomentum: true));
                }
            }
        }
    }
}

if (a.Parts.Contains("report"))
{
    Report.Write(results.Rows, a.Out);
}

Console.WriteLine($"done in {clock.Elapsed.TotalMinutes:0.0} min, load {Load()}");

static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

/// <summary>Command-line arguments of the fidelity driver.</summary>
internal sealed record Args(string ModelDir, string Out, string[] Models, HashSet<string> Parts, double[] Sparsities, int Block, int[] Blocks, int Samples, double[] RecomputeAt, double[] GradualAt, int[] Seeds, int GradualBlock, GradualVariant[] GradualVariants, int Validation)
{
    public static Args Parse(string[] args)
    {
        string Get(string key, string fallback)
        {
            var i = Array.IndexOf(args, key);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        var known = new[] { "--models", "--out", "--only", "--parts", "--sparsity", "--block", "--blocks", "--samples", "--recompute-at", "--gradual-at", "--seeds", "--gradual-block", "--gradual-variants", "--validation" };
        foreach (var arg in args.Where((x, i) => i % 2 == 0))
        {
            if (!known.Contains(arg))
            {
                throw new ArgumentException($"unknown option '{arg}'; expected {string.Join(", ", known)} (each with a value)");
            }
        }

        static double[] Doubles(string text) => text.Split(',').Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        // "independent+fresh+mb16": the update's name, fresh (samples drawn per step), mbB (B samples per gradient row).
        static GradualVariant Variant(string text) => text.Split('+').Aggregate(new GradualVariant(), (v, t) =>
            t == "fresh" ? v with { FreshSamples = true }
            : t.StartsWith("every", StringComparison.Ordinal) ? v with { Every = int.Parse(t[5..], CultureInfo.InvariantCulture) }
            : t.StartsWith("rec", StringComparison.Ordinal) ? v with { Recompute = int.Parse(t[3..], CultureInfo.InvariantCulture) }
            : t.StartsWith("rows", StringComparison.Ordinal) ? v with { Rows = int.Parse(t[4..], CultureInfo.InvariantCulture) }
            : t.StartsWith("mb", StringComparison.Ordinal) ? v with { MiniBatch = int.Parse(t[2..], CultureInfo.InvariantCulture) }
            : v with { Update = Vocabulary.Update(t) });

        static int[] Ints(string text) => text.Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        return new Args(
            Get("--models", "out/fidelity"),
            Get("--out", "docs/fidelity"),
            Get("--only", "mlp,cnn,bncnn,lenet5").Split(','),
            [.. Get("--parts", "grads,oneshot,defaults,blocks,recompute,tensor,gradual,report").Split(',')],
            Doubles(Get("--sparsity", "0.8,0.9,0.95,0.98")),
            int.Parse(Get("--block", "400"), CultureInfo.InvariantCulture),
            Ints(Get("--blocks", "100,200")),
            int.Parse(Get("--samples", "1000"), CultureInfo.InvariantCulture),
            Doubles(Get("--recompute-at", "0.95,0.98")),
            Doubles(Get("--gradual-at", "0.95,0.98")),
            Ints(Get("--seeds", "0,1,2")),
            int.Parse(Get("--gradual-block", "400"), CultureInfo.InvariantCulture),
            [.. Get("--gradual-variants", "joint").Split(',').Select(Variant)],
            int.Parse(Get("--validation", "0"), CultureInfo.InvariantCulture));
    }
}
