namespace WoodFisher.Cli.Infrastructure;

/// <summary>
/// The frame of every verb: the memory budget of <c>--memory</c>, the options given explicitly (to refuse those that do not
/// apply to a mode), and one <see cref="Outputs"/> transaction committed when the verb returns 0 and discarded otherwise.
/// </summary>
internal abstract class VerbCommand<TSettings> : Command<TSettings>
    where TSettings : VerbSettings
{
    public sealed override int Execute(CommandContext context, TSettings settings, CancellationToken cancellationToken)
    {
        using var budget = settings.MemoryBytes is { } bytes ? MemoryBudget.Override(bytes) : null;
        using var outputs = new Outputs();
        var code = Run(settings, new VerbRun(context.Name, context.Arguments, outputs), cancellationToken);
        if (code == 0)
            outputs.Commit();
        return code;
    }

    protected abstract int Run(TSettings settings, VerbRun run, CancellationToken cancellationToken);
}

/// <summary>One run of a verb: what was given on the command line and the outputs it will write.</summary>
internal sealed class VerbRun(string verb, IReadOnlyList<string> arguments, Outputs outputs)
{
    private readonly HashSet<string> _given = [.. arguments.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=', ':')[0])];

    public string Verb { get; } = verb;

    public Outputs Outputs { get; } = outputs;

    /// <summary>Whether <paramref name="option"/> (e.g. <c>--samples</c>) was given explicitly.</summary>
    public bool Given(string option) => _given.Contains(option);

    /// <summary>Refuses any of <paramref name="options"/> that was given: they do not apply in <paramref name="mode"/>, for the reason given.</summary>
    public void Refuse(string mode, string reason, params string[] options)
    {
        var given = options.Where(Given).ToList();
        if (given.Count > 0)
            throw new UsageException($"{string.Join(", ", given)} {(given.Count == 1 ? "does" : "do")} not apply to {mode}: {reason}");
    }

    /// <summary>
    /// Refuses an option given for a key <paramref name="method"/> does not read (<c>--block</c> with diagfisher,
    /// <c>--update</c> with magnitude), except <paramref name="except"/> (options the verb also uses otherwise).
    /// </summary>
    public void RefuseUnread(MethodSpec method, params string[] except)
    {
        foreach (var key in MethodSpec.Keys)
        {
            var option = "--" + key;
            if (key == MethodSpec.NameKey || method.Method.Keys.Contains(key) || except.Contains(option) || !Given(option))
                continue;
            var reads = method.Method.Keys.Where(k => k != MethodSpec.NameKey).Select(k => "--" + k).ToList();
            throw new UsageException($"{option} does not apply to --method {method.Method.Name} ({method.Method.Summary}); it reads {(reads.Count == 0 ? "none of the method options" : string.Join(", ", reads))}");
        }
    }

    /// <summary>Requires <paramref name="option"/>'s value.</summary>
    public static T Require<T>(T? value, string option, string what)
        where T : class => value ?? throw new UsageException($"{option} is required ({what})");

    /// <summary>Requires <paramref name="option"/>'s value.</summary>
    public static T Require<T>(T? value, string option, string what)
        where T : struct => value ?? throw new UsageException($"{option} is required ({what})");
}
