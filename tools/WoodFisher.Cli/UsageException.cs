namespace WoodFisher.Cli;

/// <summary>A command line that cannot run as written (exit code 2): a bad value, a missing or inapplicable option.</summary>
internal sealed class UsageException : Exception
{
    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
