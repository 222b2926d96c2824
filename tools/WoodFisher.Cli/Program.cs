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
            config.AddCommand<InspectCommand>("inspect").WithDescription("Print the arrays in a .npy, .npz, .safetensors or IDX file.");
            config.AddCommand<PruneCommand>("prune").WithDescription("Prune a weight vector (.npy) or a model (.safetensors) with WoodFisher, K-FAC, diagonal Fisher or magnitude.");
            config.AddCommand<GradualCommand>("gradual").WithDescription("Gradual pruning on the cubic schedule with masked fine-tuning; writes the model, a per-epoch CSV and a PNG plot.");
            config.AddCommand<DemoCommand>("demo").WithDescription("Train a small MLP on Fashion-MNIST and compare one-shot pruning methods at 90% sparsity.");
        });

        try
        {
            return app.Run(args);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"woodfisher: {CliError.Describe(ex)}");
            return CliError.ExitCode(ex);
        }
    }
}
