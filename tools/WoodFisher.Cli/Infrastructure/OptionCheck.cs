namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// Refuses unknown verbs and options a verb does not take before Spectre parses anything, naming the replacement of a
/// renamed option or the nearest spelling: <c>prune: unknown option --fisher-samples (did you mean --samples?)</c>.
/// </summary>
internal static class OptionCheck
{
    /// <summary>Options renamed to the one vocabulary, and what they are now.</summary>
    public static readonly IReadOnlyDictionary<string, string> Renamed = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--fisher-samples"] = "--samples",
        ["--fisher-minibatch"] = "--minibatch",
        ["--block-size"] = "--block",
        ["--sparsities"] = "--sparsity",
        ["--target"] = "--sparsity",
        ["--methods"] = "--method",
        ["--estimators"] = "--method",
        ["--out-dir"] = "--out",
        ["--save-model"] = "--out",
        ["--out-weights"] = "--out",
        ["--out-mask"] = "--mask",
        ["--out-scores"] = "--scores",
        ["--json"] = "--report",
        ["--markdown"] = "--report",
        ["--backends"] = "--backend",
        ["--segments-out"] = "--layout",
    };

    public static void Run(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0].StartsWith('-'))
            return;
        var verb = Program.Verbs.FirstOrDefault(v => v.Name == args[0]);
        if (verb.Command is null)
        {
            var near = Pruning.Internal.Suggest.Nearest(args[0], Program.Verbs.Select(v => v.Name));
            throw new UsageException($"unknown verb {args[0]}{(near is null ? "" : $" (did you mean {near}?)")}; the verbs are {string.Join(", ", Program.Verbs.Select(v => v.Name))}");
        }
        var known = Program.OptionsOf(verb.Command).Append("--help").ToList();
        var valued = Program.ValuedOptionsOf(verb.Command);
        for (var i = 1; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg == "--")
                continue;
            var name = arg.Split('=', ':')[0];
            if (known.Contains(name))
            {
                if (name == arg && valued.TryGetValue(name, out var value) && (i + 1 == args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
                    throw new UsageException($"{verb.Name}: {name} needs a value ({value})");
                continue;
            }
            var hint = Renamed.TryGetValue(name, out var renamed) && known.Contains(renamed) ? renamed
                : Pruning.Internal.Suggest.Nearest(name, known);
            throw new UsageException($"{verb.Name}: unknown option {name}{(hint is null ? "" : $" (did you mean {hint}?)")}; see woodfisher {verb.Name} --help");
        }
    }
}
