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
            config.AddCommand<StudyCommand>("study").WithDescription("Approximation quality of inverse-curvature estimators against the exact Hessian: fidelity, loss-change prediction, pruning curves, cost.");
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
