using WoodFisher.Distributed;
using WoodFisher.Distributed.Mpi;

namespace WoodFisher.Cli.Distributed;

/// <summary>
/// The ranks of a run launched by <c>mpirun</c> (detected from <c>OMPI_COMM_WORLD_SIZE</c>): MPI is opened, the verbs
/// that run distributed (<c>prune</c>, <c>fisher --grads</c>) use it and every other verb is refused, since each rank
/// would repeat the whole run. Errors print once: an agreed failure
/// (<see cref="RankFailedException"/>) and a usage error (the same on every rank) on rank 0 only; anything else on the
/// rank it happened on, which then aborts every rank (MPI_Abort), since the others may be waiting in a collective.
/// </summary>
internal static class Ranks
{
    private static readonly string[] DistributedVerbs = ["prune", "fisher"];

    /// <summary>MPI_COMM_WORLD when launched by mpirun; null otherwise.</summary>
    public static ICommunicator? World { get; private set; }

    /// <summary>The command line, for describing a failure as <see cref="CliError"/> does.</summary>
    public static IReadOnlyList<string> Arguments { get; private set; } = [];

    /// <summary>True on rank 0, and in a run without mpirun.</summary>
    public static bool IsRoot => (World?.Rank ?? MpiCommunicator.LaunchedRank ?? 0) == 0;

    /// <summary>True once an agreed failure was reported: the SIGTERM that mpirun may then send adds no second message.</summary>
    public static bool Reported { get; private set; }

    /// <summary>True when this process is one of several started by mpirun.</summary>
    public static bool Launched => MpiCommunicator.IsLaunched;

    /// <summary>Opens MPI when launched by mpirun; null otherwise. Disposing it finalizes MPI.</summary>
    public static IDisposable? Open(IReadOnlyList<string> args)
    {
        if (!Launched)
            return null;
        Arguments = args;
        World = MpiCommunicator.Create();
        return new Closer();
    }

    /// <summary>Refuses, under mpirun, a verb that does not run distributed (the same refusal on every rank).</summary>
    public static void CheckVerb(IReadOnlyList<string> args)
    {
        if (World is null)
            return;
        var verb = args.FirstOrDefault(a => !a.StartsWith('-'));
        if (verb is null || !DistributedVerbs.Contains(verb))
            throw new UsageException($"{verb ?? "this command"} does not run under mpirun (every rank would repeat the whole run): only prune and fisher (--grads) run distributed; run it without mpirun");
    }

    /// <summary>
    /// Runs a step on every rank and agrees on its outcome (<see cref="RankFailure.Agree{T}"/>), describing a local
    /// failure as the CLI would (its message and exit code).
    /// </summary>
    public static T Agree<T>(ICommunicator world, Func<T> step) =>
        RankFailure.Agree(world, step, ex => (CliError.Describe(ex, Arguments), CliError.ExitCode(ex, Arguments)));

    /// <summary>
    /// Reports <paramref name="ex"/> as this rank should and returns the exit code: agreed failures and usage errors are
    /// printed by rank 0 alone; another failure is printed with its rank and ends every rank.
    /// </summary>
    public static int Report(Exception ex, IReadOnlyList<string> args)
    {
        if (ex is RankFailedException agreed)
        {
            if (IsRoot)
            {
                Console.Error.WriteLine($"woodfisher: {agreed.Message}");
                Console.Error.Flush();
            }

            // mpirun stops the others when the first rank exits non-zero: no rank leaves before rank 0 has printed.
            Reported = true;
            World?.Barrier();
            return agreed.Code;
        }

        var code = CliError.ExitCode(ex, args);
        var usage = code == 2;
        if (usage)
        {
            // A usage error comes from the command line, the same on every rank: rank 0 says it once.
            if (IsRoot)
            {
                Console.Error.WriteLine($"woodfisher: {CliError.Describe(ex, args)}");
                Console.Error.Flush();
            }

            Reported = true;
            World?.Barrier();
            return code;
        }

        var rank = World is { } w ? $"rank {w.Rank} of {w.Size}: " : "";
        Console.Error.WriteLine($"woodfisher: {rank}{CliError.Describe(ex, args)}");
        if (World is { } world)
        {
            Outputs.Abort();
            Console.Error.Flush();
            world.Abort(code);
        }

        return code;
    }

    private sealed class Closer : IDisposable
    {
        public void Dispose()
        {
            World?.Dispose();
            World = null;
        }
    }
}
