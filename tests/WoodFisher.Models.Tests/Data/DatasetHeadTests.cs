using System.IO.Compression;
using WoodFisher.Models.Data;
using WoodFisher.Models.Tests.Hostile;
using WoodFisher.Models.Tests.IO;

namespace WoodFisher.Models.Tests.Data;

// DataSets.LoadHead against DataSets.Load, the oracle: the head is Load's first examples bit for bit, and every file Load
// refuses is refused too, by LoadHead itself or by Verified, with Load's own message.
public class DatasetHeadTests
{
    private const int Side = 28, Pixels = Side * Side;

    private static byte[] Images(int n) => [.. Enumerable.Range(0, n * Pixels).Select(i => (byte)((i * 7) + (i / 977)))];

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>A train split of <paramref name="n"/> images (the image file's header may declare another count) and labels.</summary>
    private static TempDir Split(int n, byte[] imageFile, int labels = -1)
    {
        var dir = new TempDir();
        File.WriteAllBytes(dir.File("train-images-idx3-ubyte.gz"), imageFile);
        labels = labels < 0 ? n : labels;
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), HostileFiles.Idx(0x08, [(uint)labels], [.. Enumerable.Range(0, labels).Select(i => (byte)(i % 10))]));
        return dir;
    }

    private static byte[] ImageFile(int declared, byte[] pixels) => Gzip(HostileFiles.Idx(0x08, [(uint)declared, Side, Side], pixels));

    [TestCase(20)]
    [TestCase(0)]
    [TestCase(50)]
    [TestCase(80)]
    public void Head_IsTheLoadedPrefix_BitForBit(int count)
    {
        using var dir = Split(50, ImageFile(50, Images(50)));
        var all = DataSets.Load(dir.Path, "train");
        var head = DataSets.LoadHead(dir.Path, "train", count);
        head.WaitVerified();
        var expected = all.Take(count);
        Assert.Multiple(() =>
        {
            Assert.That(head.Total, Is.EqualTo(50));
            Assert.That(head.Head.Count, Is.EqualTo(Math.Min(count, 50)));
            Assert.That(head.Head.Images, Is.EqualTo(expected.Images));
            Assert.That(head.Head.Labels, Is.EqualTo(expected.Labels));
            Assert.That((head.Head.FeatureShape, head.Head.ClassCount, head.Head.Name), Is.EqualTo((all.FeatureShape, all.ClassCount, all.Name)));
        });
    }

    // Fashion-MNIST as Debian ships it: a file this library did not write.
    [Test]
    public void Head_OfTheInstalledTrainSplit_IsTheLoadedPrefix()
    {
        var dir = DataSets.SystemDirectory;
        if (!File.Exists(Path.Combine(dir, "train-images-idx3-ubyte.gz")))
            Assert.Ignore($"{dir} is not installed (apt-get install dataset-fashion-mnist)");
        var head = DataSets.LoadHead(dir, "train", 1000);
        var all = DataSets.Load(dir, "train");
        head.WaitVerified();
        Assert.That(head.Total, Is.EqualTo(60000));
        Assert.That(head.Head.Images, Is.EqualTo(all.Take(1000).Images));
        Assert.That(head.Head.Labels, Is.EqualTo(all.Take(1000).Labels));
    }

    // 24,000 images (18.8 MB) inflate in more than one read of the loader's first 16 MiB buffer, so the head is handed over
    // before the end is reached; the trailer's CRC then fails in the background, with Load's message.
    [Test]
    public void DamagedTail_FailsVerified_AfterTheHeadArrived_WithLoadsMessage()
    {
        const int n = 24000;
        var file = ImageFile(n, Images(n));
        file[^8] ^= 0x01;
        using var dir = Split(n, file);
        var expected = Assert.Throws<InvalidDataException>(() => DataSets.Load(dir.Path, "train"))!;
        var head = DataSets.LoadHead(dir.Path, "train", 100);
        Assert.That(head.Head.Count, Is.EqualTo(100));
        var actual = Assert.Throws<InvalidDataException>(head.WaitVerified)!;
        Assert.That(actual.Message, Is.EqualTo(expected.Message));
    }

    // Load's header checks come before the head: a count that disagrees with the labels', and data that end before it.
    [TestCase(50, 50, 49, 10, "50 images but 49 labels")]
    [TestCase(50, 10, 50, 20, "truncated")]
    public void BadHeadOrShortData_FailsLoadHead_WithLoadsMessage(int declared, int present, int labels, int count, string mention)
    {
        using var dir = Split(present, ImageFile(declared, Images(present)), labels);
        var expected = Assert.Throws<InvalidDataException>(() => DataSets.Load(dir.Path, "train"))!;
        var actual = Assert.Throws<InvalidDataException>(() => DataSets.LoadHead(dir.Path, "train", count))!;
        Assert.That(actual.Message, Is.EqualTo(expected.Message).And.Contains(mention));
    }

    // Data that end after the head but before the declared count: the head arrives, Verified fails as Load does.
    [Test]
    public void DataEndingAfterTheHead_FailsVerified()
    {
        using var dir = Split(50, ImageFile(50, Images(10)));
        var expected = Assert.Throws<InvalidDataException>(() => DataSets.Load(dir.Path, "train"))!;
        var head = DataSets.LoadHead(dir.Path, "train", 5);
        Assert.That(head.Head.Count, Is.EqualTo(5));
        Assert.That(Assert.Throws<InvalidDataException>(head.WaitVerified)!.Message, Is.EqualTo(expected.Message));
    }

    // Files over several of the reader's 1 MiB windows, which LoadHead streams (one gzip member whose trailer records the
    // whole size: a running CRC; an uncompressed file: no CRC) or keeps whole (several members, a trailer that does not
    // record the whole size): each is accepted or refused exactly as Load does, with Load's message.
    [TestCase("one member")]
    [TestCase("two members")]
    [TestCase("two members, the last empty")]
    [TestCase("uncompressed")]
    [TestCase("uncompressed, cut short")]
    [TestCase("cut inside the trailer")]
    [TestCase("CRC flipped")]
    [TestCase("size one more")]
    [TestCase("size one less")]
    [TestCase("size's high byte flipped")]
    [TestCase("trailing zeros")]
    [TestCase("deflate data flipped")]
    public void StreamedOrKept_TheRestIsCheckedAsLoadChecksIt(string kind)
    {
        const int n = 3000;
        var raw = HostileFiles.Idx(0x08, [n, Side, Side], Images(n));
        var file = kind switch
        {
            "one member" => Gzip(raw),
            "two members" => [.. Gzip(raw[..(raw.Length / 3)]), .. Gzip(raw[(raw.Length / 3)..])],
            "two members, the last empty" => [.. Gzip(raw), .. Gzip([])],
            "uncompressed" => raw,
            "uncompressed, cut short" => raw[..^100],
            "cut inside the trailer" => Gzip(raw)[..^3],
            "trailing zeros" => [.. Gzip(raw), 0, 0, 0, 0],
            _ => Gzip(raw),
        };
        var at = kind switch
        {
            "CRC flipped" => file.Length - 8,
            "size one more" or "size one less" => file.Length - 4,
            "size's high byte flipped" => file.Length - 1,
            "deflate data flipped" => file.Length / 2,
            _ => -1,
        };
        if (at >= 0)
            file[at] = kind switch { "size one more" => (byte)(file[at] + 1), "size one less" => (byte)(file[at] - 1), _ => (byte)(file[at] ^ 0x55) };

        using var dir = Split(n, file);
        InvalidDataException? expected = null;
        Dataset? all = null;
        try
        {
            all = DataSets.Load(dir.Path, "train");
        }
        catch (InvalidDataException e)
        {
            expected = e;
        }

        DatasetHead? head = null;
        var actual = Assert.Catch<Exception>(() =>
        {
            head = DataSets.LoadHead(dir.Path, "train", 100);
            head.WaitVerified();
            throw new OperationCanceledException("accepted");
        })!;
        if (expected is null)
        {
            Assert.That(actual, Is.TypeOf<OperationCanceledException>(), actual.Message);
            Assert.That(head!.Head.Images, Is.EqualTo(all!.Take(100).Images));
        }
        else
        {
            Assert.That(actual, Is.TypeOf<InvalidDataException>());
            Assert.That(actual.Message, Is.EqualTo(expected.Message));
        }
    }
}
