using Spectre.Console;
using Spectre.Console.Cli;
using WoodFisher.Cli.Commands;

namespace WoodFisher.Cli;

/// <summary>The <c>woodfisher</c> command.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("woodfisher");
            config.SetApplicationVersion(typeof(Program).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
            config.PropagateExceptions();
            config.UseStrictParsing();
            config.AddCommand<InspectCommand>("inspect").WithDescription("Print the arrays in a .npy, .npz, .safetensors or IDX file.");
            config.AddCommand<TrainCommand>("train").WithDescription("Train a model with SGD on Fashion-MNIST (IDX) and save it as safetensors.");
            config.AddCommand<EvalCommand>("eval").WithDescription("Print a model's loss and accuracy on a data split.");
            config.AddCommand<GradsCommand>("grads").WithDescription("Write per-sample gradients of a model as a (rows x d) float32 .npy, streamed.");
            config.AddCommand<StudyCommand>("study").WithDescription("Approximation quality of inverse-curvature estimators against the exact Hessian: fidelity, loss-change prediction, pruning curves, cost.");
            config.AddCommand<FisherCommand>("fisher").WithDescription("Build the WoodFisher inverse of a gradient .npy and write its blocks to .npz.");
            config.AddCommand<IhvpCommand>("ihvp").WithDescription("Multiply vectors by the WoodFisher inverse of a gradient .npy.");
            config.AddCommand<BenchCommand>("bench").WithDescription("Time the WoodFisher strategies and backends against the dense inverse (and NumPy).");
            config.AddCommand<PruneCommand>("prune").WithDescription("Prune a weight vector (.npy) or a model (.safetensors) with WoodFisher, K-FAC, diagonal Fisher or magnitude.");
            config.AddCommand<GradualCommand>("gradual").WithDescription("Gradual pruning on the cubic schedule with masked fine-tuning; writes the model, a per-epoch CSV and a PNG plot.");
            config.AddCommand<DemoCommand>("demo").WithDescription("Train a small MLP on Fashion-MNIST and compare one-shot pruning methods at 90% sparsity.");
        });

        try
        {
            return app.Run(args);
        }
        // A real OutOfMemoryException is left to crash; InsufficientMemoryException (a size guard that refused) is a message.
        catch (Exception ex) when (ex is not OutOfMemoryException || ex is InsufficientMemoryException)
        {
            Console.Error.WriteLine($"woodfisher: {CliError.Describe(ex)}");
            return CliError.ExitCode(ex);
        }
    }
}
