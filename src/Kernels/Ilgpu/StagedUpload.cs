using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels.Ilgpu;

/// <summary>
/// Gradient chunks to the device through two page-locked host buffers. A copy from pageable memory runs at the speed of
/// the driver's own staging copy (about 5 GB/s on the H200 machine, against 51 GB/s from page-locked memory), so the
/// rows are copied (or converted) into a page-locked buffer by all cores, and that copy of one piece overlaps the
/// device's work before it: <see cref="Upload{TSrc}"/> fills one buffer, then waits for the stream (the previous
/// chunk's kernels, which read the destination, and the previous copy out of the other buffer) before it queues the
/// transfer. A chunk longer than a buffer goes in pieces, so the page-locked memory stays within 2 × 64 MiB.
/// </summary>
internal sealed class StagedUpload<T> : IDisposable
    where T : unmanaged, INumberBase<T>
{
    private const long MaxBufferBytes = 64L << 20;
    private const int Piece = 1 << 18;

    private readonly Accelerator _accelerator;
    private readonly PageLockedArray1D<T>[] _buffers;
    private int _next;

    /// <param name="accelerator">The accelerator the chunks go to.</param>
    /// <param name="length">Elements of each buffer (<see cref="BufferLength"/>).</param>
    public StagedUpload(Accelerator accelerator, long length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        _accelerator = accelerator;
        var first = accelerator.AllocatePageLocked1D<T>(length);
        try
        {
            _buffers = [first, accelerator.AllocatePageLocked1D<T>(length)];
        }
        catch
        {
            first.Dispose();
            throw;
        }

        Length = length;
    }

    /// <summary>Elements of each buffer.</summary>
    public long Length { get; }

    /// <summary>The buffer length for chunks of up to <paramref name="elements"/>: the chunk, at most 64 MiB.</summary>
    public static long BufferLength(long elements) => Math.Clamp(elements, 1, MaxBufferBytes / Unsafe.SizeOf<T>());

    /// <summary>Queues source → destination[0, source.Length) on the default stream; returns once the last copy is queued.</summary>
    public void Upload<TSrc>(ReadOnlySpan<TSrc> source, ArrayView<T> destination)
        where TSrc : unmanaged, INumberBase<TSrc>
    {
        var stream = _accelerator.DefaultStream;
        for (var done = 0; done < source.Length;)
        {
            var buffer = _buffers[_next];
            _next ^= 1;
            var n = (int)Math.Min(Length, source.Length - done);
            Fill(source.Slice(done, n), buffer);
            stream.Synchronize();
            destination.SubView(done, n).CopyFrom(stream, buffer.ArrayView.SubView(0, n));
            done += n;
        }
    }

    public void Dispose()
    {
        _accelerator.DefaultStream.Synchronize();
        foreach (var buffer in _buffers)
        {
            buffer.Dispose();
        }
    }

    // buffer[0, source.Length) = source, copied or converted by all cores in pieces.
    private static unsafe void Fill<TSrc>(ReadOnlySpan<TSrc> source, PageLockedArray1D<T> buffer)
        where TSrc : unmanaged, INumberBase<TSrc>
    {
        var n = source.Length;
        fixed (TSrc* from = source)
        {
            var src = (nint)from;
            BlockParallel.For((n + Piece - 1) / Piece, p =>
            {
                var start = p * Piece;
                var length = Math.Min(Piece, n - start);
                var input = new ReadOnlySpan<TSrc>((TSrc*)src + start, length);
                var output = buffer.Span.Slice(start, length);
                if (typeof(TSrc) == typeof(T))
                {
                    MemoryMarshal.Cast<TSrc, T>(input).CopyTo(output);
                }
                else
                {
                    TensorPrimitives.ConvertTruncating(input, output);
                }
            });
        }
    }
}
