namespace WoodFisher.Kernels.Sparse;

/// <summary>Registers of C per row in a tile of <see cref="QuadTile512"/> (2 or 4), as a type so that each width is compiled apart.</summary>
internal interface ITileWidth
{
    static abstract int Registers { get; }
}

internal readonly struct TwoRegisters : ITileWidth
{
    public static int Registers => 2;
}

internal readonly struct FourRegisters : ITileWidth
{
    public static int Registers => 4;
}
