namespace WoodFisher.Kernels.Sparse;

/// <summary>A subset of the four rows of a quad (<see cref="QuadRows"/>), as a type so that each list's loop is compiled for it.</summary>
internal interface IRowSubset
{
    /// <summary>Bit r set when row r of the quad keeps the list's inputs.</summary>
    static abstract int Mask { get; }

    /// <summary>Rows in the subset: values stored per input.</summary>
    static abstract int Count { get; }
}

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

internal readonly struct Rows1 : IRowSubset
{
    public static int Mask => 1;

    public static int Count => 1;
}

internal readonly struct Rows2 : IRowSubset
{
    public static int Mask => 2;

    public static int Count => 1;
}

internal readonly struct Rows3 : IRowSubset
{
    public static int Mask => 3;

    public static int Count => 2;
}

internal readonly struct Rows4 : IRowSubset
{
    public static int Mask => 4;

    public static int Count => 1;
}

internal readonly struct Rows5 : IRowSubset
{
    public static int Mask => 5;

    public static int Count => 2;
}

internal readonly struct Rows6 : IRowSubset
{
    public static int Mask => 6;

    public static int Count => 2;
}

internal readonly struct Rows7 : IRowSubset
{
    public static int Mask => 7;

    public static int Count => 3;
}

internal readonly struct Rows8 : IRowSubset
{
    public static int Mask => 8;

    public static int Count => 1;
}

internal readonly struct Rows9 : IRowSubset
{
    public static int Mask => 9;

    public static int Count => 2;
}

internal readonly struct Rows10 : IRowSubset
{
    public static int Mask => 10;

    public static int Count => 2;
}

internal readonly struct Rows11 : IRowSubset
{
    public static int Mask => 11;

    public static int Count => 3;
}

internal readonly struct Rows12 : IRowSubset
{
    public static int Mask => 12;

    public static int Count => 2;
}

internal readonly struct Rows13 : IRowSubset
{
    public static int Mask => 13;

    public static int Count => 3;
}

internal readonly struct Rows14 : IRowSubset
{
    public static int Mask => 14;

    public static int Count => 3;
}

internal readonly struct Rows15 : IRowSubset
{
    public static int Mask => 15;

    public static int Count => 4;
}
