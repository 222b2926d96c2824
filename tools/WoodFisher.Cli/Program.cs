using System.Reflection;
using System.Runtime.InteropServices;
using Spectre.Console;
using Spectre.Console.Cli.Unsafe;
using WoodFisher.Cli.Commands;
using WoodFisher.Cli.Distributed;

namespace WoodFisher.Cli;

/// <summary>The <c>woodfisher</c> command.</summary>
public static class Program
{
    /// <summary>Every verb: name, command type and one-line description (plain text; escaped for Spectre's markup here).</summary>
    internal static readonly (string Name, Type Command, string Description)[] Verbs =
    [
        ("inspect", typeof(InspectCommand), "Print the arrays in a .npy, .npz, .safetensors or IDX file."),
        ("train", typeof(TrainCommand), "Train a model with SGD on Fashion-MNIST (IDX) and save it as safetensors."),
        ("eval", typeof(EvalCommand), "Print a model's loss and accuracy on the test and training splits."),
        ("grads", typeof(GradsCommand), "Write per-sample gradients of a model as a (rows x d) float32 .npy, streamed, and their layout."),
        ("fisher", typeof(FisherCommand), "Build the WoodFisher inverse from gradients (a .npy or a model) and write its blocks to .npz."),
        ("ihvp", typeof(IhvpCommand), "Multiply vectors by the WoodFisher inverse of gradients (a .npy or a model)."),
        ("prune", typeof(PruneCommand), "Prune a model (.safetensors) or a weight vector (.npy) one-shot with any method: magnitude, diagfisher, kfac, woodfisher, woodtaylor, exact."),
        ("gradual", typeof(GradualCommand), "Gradual pruning on the cubic schedule with masked fine-tuning; writes the model, a per-epoch CSV and a PNG plot."),
        ("study", typeof(StudyCommand), "Approximation quality of inverse-curvature estimators against the exact Hessian: fidelity, loss-change prediction, pruning curves, cost."),
        ("demo", typeof(DemoCommand), "Train a small MLP on Fashion-MNIST and compare one-shot pruning methods at 90% sparsity."),
        ("bench", typeof(BenchCommand), "Time the WoodFisher strategies and backends against the dense inverse (and NumPy)."),
        ("compress", typeof(CompressCommand), "Write a pruned model with its Linear/Conv2d weights stored sparse (CSR, N:M or block-sparse)."),
        ("bench-inference", typeof(BenchInferenceCommand), "Time inference with dense weights against sparse ones: latency, throughput and stored bytes per batch size."),
    ];

    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var console = CliConsole.CreateAnsi();
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("woodfisher");
            config.SetApplicationVersion(typeof(Program).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
            config.PropagateExceptions();
            config.UseStrictParsing();
            config.Settings.Console = console;
            foreach (var (name, command, description) in Verbs)
            {
                config.SafetyOff().AddCommand(name, command).WithDescription(Markup.Escape(description));
            }
        });

        IDisposable? ranks = null;
        try
        {
            ranks = Ranks.Open(args);
            OptionCheck.Run(args);
            Ranks.CheckVerb(args);
            return app.Run(args);
        }
        // A real OutOfMemoryException is left to crash; InsufficientMemoryException (a size guard that refused) is a message.
        catch (Exception ex) when (ex is not OutOfMemoryException || ex is InsufficientMemoryException)
        {
            CliConsole.RestoreCursor();
            if (Environment.GetEnvironmentVariable("WOODFISHER_TRACE") == "1")
                Console.Error.WriteLine(ex);
            if (Ranks.Launched)
                return Ranks.Report(ex, args);
            Console.Error.WriteLine($"woodfisher: {CliError.Describe(ex, args)}");
            return CliError.ExitCode(ex, args);
        }
        finally
        {
            ranks?.Dispose();
        }
    }

    /// <summary>
    /// SIGINT (Ctrl+C) and SIGTERM: delete every temporary this run holds, so an interrupted run leaves nothing, and exit
    /// with 128 + the signal number (130, 143) as a shell would report.
    /// </summary>
    private static void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Outputs.Abort();
        CliConsole.RestoreCursor();
        var (name, code) = context.Signal == PosixSignal.SIGINT ? ("SIGINT", 130) : ("SIGTERM", 143);
        if (Ranks.IsRoot && !Ranks.Reported)
            Console.Error.WriteLine($"woodfisher: interrupted by {name}; no output was written{(Ranks.Launched ? " (mpirun stops every rank when one fails: see its message)" : "")}");
        Environment.Exit(code);
    }

    /// <summary>The long option names (<c>--name</c>) a verb accepts.</summary>
    internal static IReadOnlyList<string> OptionsOf(Type command) => [.. Attributes(command).SelectMany(a => a.LongNames.Select(n => "--" + n))];

    /// <summary>The long option names of a verb that take a value (not flags), with the value's name.</summary>
    internal static IReadOnlyDictionary<string, string> ValuedOptionsOf(Type command) =>
        Attributes(command).Where(a => a.ValueName is not null).SelectMany(a => a.LongNames.Select(n => ("--" + n, a.ValueName!))).ToDictionary();

    private static IEnumerable<CommandOptionAttribute> Attributes(Type command) =>
        command.BaseType!.GetGenericArguments()[0].GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
            .OfType<CommandOptionAttribute>();
}
