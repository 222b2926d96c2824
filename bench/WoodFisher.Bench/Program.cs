using BenchmarkDotNet.Running;

namespace WoodFisher.Bench;

/// <summary>Entry point: <c>dotnet run -c Release --project bench/WoodFisher.Bench -- --filter '*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
