namespace WoodFisher.Kernels.Sparse;

/// <summary>
/// An entry of a sparse matrix's arrays breaks the format (a pointer out of order, an index out of range): names the array
/// (<see cref="ArgumentException.ParamName"/>) and the entry, so a file reader can give the byte offset.
/// </summary>
public sealed class SparseArrayException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public SparseArrayException(string message, string array, long index)
        : base(message, array)
    {
        Index = index;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public SparseArrayException()
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public SparseArrayException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public SparseArrayException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The offending entry of the array.</summary>
    public long Index { get; }

    /// <summary>The message without the parameter suffix that <see cref="ArgumentException"/> appends.</summary>
    public string Reason => ParamName is null ? Message : Message.Replace($" (Parameter '{ParamName}')", "", StringComparison.Ordinal);
}
