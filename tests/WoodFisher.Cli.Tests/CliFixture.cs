using WoodFisher.Cli.Infrastructure;

namespace WoodFisher.Cli.Tests;

/// <summary>
/// Base of the CLI fixtures: a fresh temp directory and plain (non-interactive) output per test, and <see cref="Run"/>,
/// which runs <c>woodfisher</c> in-process. Console is process-wide, so CLI fixtures do not run in parallel.
/// </summary>
[NonParallelizable]
public abstract class CliFixture
{
    protected string Dir { get; private set; } = "";

    [SetUp]
    public void CreateDir()
    {
        Dir = Path.Combine(Path.GetTempPath(), "wf-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        CliConsole.InteractiveOverride = false;
    }

    [TearDown]
    public void DeleteDir()
    {
        CliConsole.InteractiveOverride = null;
        Directory.Delete(Dir, recursive: true);
    }

    protected string P(string name) => Path.Combine(Dir, name);

    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var oldOut = Console.Out;
        var oldErr = Console.Error;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            int code = Program.Main(args);
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }
}
