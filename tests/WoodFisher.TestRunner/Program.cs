using System.Reflection;
using System.Runtime.Loader;
using NUnit.Framework.Api;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace WoodFisher.TestRunner;

/// <summary>
/// Runs an NUnit test assembly on a machine that has the .NET runtime but no SDK (the GPU machines have no
/// <c>dotnet test</c>): <c>dotnet WoodFisher.TestRunner.dll TESTS.dll [--where REGEX]</c>. Prints each failure, then one
/// line <c>N passed, N failed, N skipped</c>; exits 1 when any test failed.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length is not (1 or 3) || (args.Length == 3 && args[1] != "--where") || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine("usage: WoodFisher.TestRunner TESTS.dll [--where REGEX]   (REGEX matches full test names)");
            return 2;
        }
        var path = Path.GetFullPath(args[0]);
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"WoodFisher.TestRunner: no such test assembly: {path}");
            return 2;
        }

        // The test assembly's own dependencies (its deps.json) resolve beside it; NUnit itself is the runner's copy, so the
        // attributes the framework looks for are the same types.
        var resolver = new AssemblyDependencyResolver(path);
        AssemblyLoadContext.Default.Resolving += (_, name) =>
            resolver.ResolveAssemblyToPath(name) is { } p ? AssemblyLoadContext.Default.LoadFromAssemblyPath(p) : null;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
            resolver.ResolveUnmanagedDllToPath(name) is { } p ? System.Runtime.InteropServices.NativeLibrary.Load(p) : IntPtr.Zero;
        var assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(path);

        var runner = new NUnitTestAssemblyRunner(new DefaultTestAssemblyBuilder());
        var settings = new Dictionary<string, object> { ["WorkDirectory"] = Path.GetDirectoryName(path)! };
        runner.Load(assembly, settings);
        ITestFilter filter = args.Length == 3
            ? TestFilter.FromXml(TNode.FromXml($"<filter><test re=\"1\">{System.Security.SecurityElement.Escape(args[2])}</test></filter>"))
            : TestFilter.Empty;
        var listener = new Listener();
        runner.Run(listener, filter);
        Console.WriteLine($"{listener.Passed} passed, {listener.Failed} failed, {listener.Skipped} skipped");
        return listener.Failed == 0 ? 0 : 1;
    }

    private sealed class Listener : ITestListener
    {
        // NUnit redirects Console.Out inside each test's context, where the listener is called: write to the process's
        // own standard output instead.
        private readonly TextWriter _out = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };

        public int Passed { get; private set; }

        public int Failed { get; private set; }

        public int Skipped { get; private set; }

        public void TestStarted(ITest test)
        {
        }

        public void TestFinished(ITestResult result)
        {
            if (result.Test.IsSuite)
            {
                // A fixture whose set-up failed reports once here and its tests as failed below it.
                if (result.ResultState.Status == TestStatus.Failed && result.ResultState.Site == FailureSite.SetUp)
                    _out.WriteLine($"FAILED SET-UP {result.FullName}: {result.Message}");
                return;
            }
            lock (this)
            {
                switch (result.ResultState.Status)
                {
                    case TestStatus.Passed:
                        Passed++;
                        break;
                    case TestStatus.Failed:
                        Failed++;
                        _out.WriteLine($"FAILED {result.FullName} ({result.Duration:F2} s)\n  {result.Message?.Replace("\n", "\n  ", StringComparison.Ordinal)}");
                        break;
                    default:
                        Skipped++;
                        break;
                }
            }
        }

        public void TestOutput(TestOutput output) => _out.Write(output.Text);

        public void SendMessage(TestMessage message)
        {
        }
    }
}
