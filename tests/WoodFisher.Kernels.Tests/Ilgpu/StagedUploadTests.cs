using ILGPU;
using ILGPU.Runtime;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels.Tests.Ilgpu;

/// <summary>
/// <see cref="StagedUpload{T}"/> alone: chunks of several pieces each (the host copy is split over the cores), of
/// different lengths, through both page-locked buffers in turn, longer than a buffer or not, with and without
/// conversion, arrive exactly.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.None)]
public sealed class StagedUploadTests
{
    private Context _context = null!;
    private Accelerator _accelerator = null!;

    [OneTimeSetUp]
    public void CreateAccelerator() => (_context, _accelerator) = TestAccelerator.Create();

    [OneTimeTearDown]
    public void DisposeAccelerator()
    {
        _accelerator.Dispose();
        _context.Dispose();
    }

    [Test]
    public void Chunks_ArriveExactly_ThroughBothBuffers()
    {
        const int largest = 700_001;
        int[] lengths = [largest, 3, 300_000, largest];
        using var device = _accelerator.Allocate1D<float>(largest);
        using var staging = new StagedUpload<float>(_accelerator, StagedUpload<float>.BufferLength(largest));
        var rng = new Random(31);
        foreach (var length in lengths)
        {
            var source = new float[length];
            for (var i = 0; i < length; i++)
            {
                source[i] = (float)(rng.NextDouble() - 0.5);
            }

            staging.Upload<float>(source, device.View);
            _accelerator.Synchronize();
            Assert.That(device.View.SubView(0, length).GetAsArray1D(), Is.EqualTo(source));
        }
    }

    // Buffers of 100,000 elements: a chunk of 700,001 goes in eight copies, the buffers alternating within the chunk.
    [Test]
    public void ChunksLongerThanABuffer_GoInPieces()
    {
        const int length = 700_001;
        var source = Enumerable.Range(0, length).Select(i => (float)Math.Sin(i)).ToArray();
        using var device = _accelerator.Allocate1D<float>(length);
        using var staging = new StagedUpload<float>(_accelerator, 100_000);
        staging.Upload<float>(source, device.View);
        staging.Upload<float>(source.AsSpan(0, 250_000), device.View);
        _accelerator.Synchronize();
        Assert.That(device.View.GetAsArray1D(), Is.EqualTo(source));
        Assert.That(StagedUpload<double>.BufferLength(long.MaxValue), Is.EqualTo(8L << 20), "64 MiB of float64");
    }

    // Float64 rows into a float32 device buffer are rounded once, as TensorPrimitives.ConvertTruncating rounds them.
    [Test]
    public void Float64Rows_AreRoundedToTheDeviceType()
    {
        const int length = 530_000;
        var source = new double[length];
        var rng = new Random(32);
        for (var i = 0; i < length; i++)
        {
            source[i] = rng.NextDouble() * 1e3;
        }

        using var device = _accelerator.Allocate1D<float>(length);
        using var staging = new StagedUpload<float>(_accelerator, StagedUpload<float>.BufferLength(length));
        staging.Upload<double>(source, device.View);
        staging.Upload<double>(source.AsSpan(0, 17), device.View);
        _accelerator.Synchronize();
        var expected = source.Select(x => (float)x).ToArray();
        Assert.That(device.View.GetAsArray1D(), Is.EqualTo(expected));
    }
}
