using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels.Sparse;

public sealed partial class DenseWeights
{
    /// <summary>
    /// As <see cref="Tiles{TV, TS}"/> for the whole tiles of two registers left in columns [j0, j1) (a part of a batch
    /// split over the cores, or a batch narrower than four registers): eight rows against two registers of B's columns, so
    /// that the 16 accumulators still hide the FMA latency and each loaded register of B serves eight rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe int NarrowTiles<TV, TS>(float* w, int columns, int r0, int r1, int j0, int j1, float* b, int n, float* c, float* bias)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        var v = TS.Count;
        var tile = 2 * v;
        var j = j0;
        var rowAt = stackalloc int[8];
        for (; j + tile <= j1; j += tile)
        {
            for (var k0 = 0; k0 < columns; k0 += ChunkDepth)
            {
                var k1 = Math.Min(columns, k0 + ChunkDepth);
                for (var r = r0; r < r1; r += 8)
                {
                    var last = Math.Min(r1, r + 8) - 1;
                    for (var i = 0; i < 8; i++)
                    {
                        rowAt[i] = Math.Min(r + i, last);
                    }

                    var w0 = w + ((nint)rowAt[0] * columns);
                    var w1 = w + ((nint)rowAt[1] * columns);
                    var w2 = w + ((nint)rowAt[2] * columns);
                    var w3 = w + ((nint)rowAt[3] * columns);
                    var w4 = w + ((nint)rowAt[4] * columns);
                    var w5 = w + ((nint)rowAt[5] * columns);
                    var w6 = w + ((nint)rowAt[6] * columns);
                    var w7 = w + ((nint)rowAt[7] * columns);
                    TV a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71;
                    if (k0 == 0)
                    {
                        (a00, a10, a20, a30) = (Start<TV, TS>(bias, rowAt[0]), Start<TV, TS>(bias, rowAt[1]), Start<TV, TS>(bias, rowAt[2]), Start<TV, TS>(bias, rowAt[3]));
                        (a40, a50, a60, a70) = (Start<TV, TS>(bias, rowAt[4]), Start<TV, TS>(bias, rowAt[5]), Start<TV, TS>(bias, rowAt[6]), Start<TV, TS>(bias, rowAt[7]));
                        (a01, a11, a21, a31, a41, a51, a61, a71) = (a00, a10, a20, a30, a40, a50, a60, a70);
                    }
                    else
                    {
                        (a00, a01) = Load2<TV, TS>(c + ((nint)rowAt[0] * n) + j, v);
                        (a10, a11) = Load2<TV, TS>(c + ((nint)rowAt[1] * n) + j, v);
                        (a20, a21) = Load2<TV, TS>(c + ((nint)rowAt[2] * n) + j, v);
                        (a30, a31) = Load2<TV, TS>(c + ((nint)rowAt[3] * n) + j, v);
                        (a40, a41) = Load2<TV, TS>(c + ((nint)rowAt[4] * n) + j, v);
                        (a50, a51) = Load2<TV, TS>(c + ((nint)rowAt[5] * n) + j, v);
                        (a60, a61) = Load2<TV, TS>(c + ((nint)rowAt[6] * n) + j, v);
                        (a70, a71) = Load2<TV, TS>(c + ((nint)rowAt[7] * n) + j, v);
                    }

                    for (var k = k0; k < k1; k++)
                    {
                        var bk = b + ((nint)k * n) + j;
                        var (x0, x1) = (TS.Load(bk), TS.Load(bk + v));
                        var s = TS.Splat(w0[k]);
                        (a00, a01) = (TS.Fma(s, x0, a00), TS.Fma(s, x1, a01));
                        s = TS.Splat(w1[k]);
                        (a10, a11) = (TS.Fma(s, x0, a10), TS.Fma(s, x1, a11));
                        s = TS.Splat(w2[k]);
                        (a20, a21) = (TS.Fma(s, x0, a20), TS.Fma(s, x1, a21));
                        s = TS.Splat(w3[k]);
                        (a30, a31) = (TS.Fma(s, x0, a30), TS.Fma(s, x1, a31));
                        s = TS.Splat(w4[k]);
                        (a40, a41) = (TS.Fma(s, x0, a40), TS.Fma(s, x1, a41));
                        s = TS.Splat(w5[k]);
                        (a50, a51) = (TS.Fma(s, x0, a50), TS.Fma(s, x1, a51));
                        s = TS.Splat(w6[k]);
                        (a60, a61) = (TS.Fma(s, x0, a60), TS.Fma(s, x1, a61));
                        s = TS.Splat(w7[k]);
                        (a70, a71) = (TS.Fma(s, x0, a70), TS.Fma(s, x1, a71));
                    }

                    // Rows past the last repeat it, so storing them rewrites its own values.
                    Store2<TV, TS>(c + ((nint)rowAt[0] * n) + j, v, a00, a01);
                    Store2<TV, TS>(c + ((nint)rowAt[1] * n) + j, v, a10, a11);
                    Store2<TV, TS>(c + ((nint)rowAt[2] * n) + j, v, a20, a21);
                    Store2<TV, TS>(c + ((nint)rowAt[3] * n) + j, v, a30, a31);
                    Store2<TV, TS>(c + ((nint)rowAt[4] * n) + j, v, a40, a41);
                    Store2<TV, TS>(c + ((nint)rowAt[5] * n) + j, v, a50, a51);
                    Store2<TV, TS>(c + ((nint)rowAt[6] * n) + j, v, a60, a61);
                    Store2<TV, TS>(c + ((nint)rowAt[7] * n) + j, v, a70, a71);
                }
            }
        }

        return j - j0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe TV Start<TV, TS>(float* bias, int row)
        where TV : struct
        where TS : struct, ISimd<float, TV>
        => TS.Splat(bias == null ? 0f : bias[row]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (TV, TV) Load2<TV, TS>(float* c, int v)
        where TV : struct
        where TS : struct, ISimd<float, TV>
        => (TS.Load(c), TS.Load(c + v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store2<TV, TS>(float* c, int v, TV a0, TV a1)
        where TV : struct
        where TS : struct, ISimd<float, TV>
    {
        TS.Store(a0, c);
        TS.Store(a1, c + v);
    }
}
