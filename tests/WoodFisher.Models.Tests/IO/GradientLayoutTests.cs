using WoodFisher.IO;

namespace WoodFisher.Models.Tests.IO;

public class GradientLayoutTests
{
    private static GradientLayout Cnn() => new(
    [
        new("conv1.weight", [4, 1, 3, 3], 0, 36),
        new("conv2.weight", [6, 4, 3, 3], 36, 216),
        new("fc.weight", [3, 24], 252, 72),
    ], rows: 40, minibatch: 2, model: "cnn");

    [Test]
    public void ToJson_ParsesBack_ToTheSameLayout()
    {
        var layout = Cnn();
        var back = GradientLayout.Parse(layout.ToJson());
        Assert.Multiple(() =>
        {
            Assert.That(back.Dimension, Is.EqualTo(324));
            Assert.That(back.Rows, Is.EqualTo(40));
            Assert.That(back.MiniBatch, Is.EqualTo(2));
            Assert.That(back.Model, Is.EqualTo("cnn"));
            Assert.That(back.Names, Is.EqualTo(new[] { "conv1.weight", "conv2.weight", "fc.weight" }));
            Assert.That(back.Segments, Is.EqualTo(new[] { 36, 216, 72 }));
            Assert.That(back.Tensors.Select(t => t.Shape), Is.EqualTo(layout.Tensors.Select(t => t.Shape)));
            Assert.That(back.Find("conv2.weight")!.Offset, Is.EqualTo(36));
            Assert.That(back.Find("conv3.weight"), Is.Null);
        });
    }

    [Test]
    public void Parse_MinimalLayout_WithoutOptionalKeys_AndUnknownKeysIgnored()
    {
        var layout = GradientLayout.Parse("""
            {"framework": "torch", "segments": [{"name": "w", "shape": [2, 3], "offset": 0, "length": 6, "dtype": "float32"},
                                                 {"name": "b", "shape": [], "offset": 6, "length": 1}]}
            """);
        Assert.Multiple(() =>
        {
            Assert.That(layout.Dimension, Is.EqualTo(7));
            Assert.That(layout.Rows, Is.Null);
            Assert.That(layout.MiniBatch, Is.Null);
            Assert.That(layout.Tensors[1].Shape, Is.Empty, "a scalar tensor has shape [] and length 1");
        });
    }

    [Test]
    public void Read_WrittenByPython_MatchesTheArraysItDescribes()
    {
        using var dir = new TempDir();
        Python.Run("""
            shapes = {'a.weight': (5, 2, 3, 3), 'b.weight': (7, 90)}
            segs, off = [], 0
            for n, s in shapes.items():
                size = int(np.prod(s)); segs.append({'name': n, 'shape': list(s), 'offset': off, 'length': size}); off += size
            json.dump({'rows': 3, 'dimension': off, 'segments': segs}, open(sys.argv[1], 'w'))
            """, dir.File("g.json"));
        var layout = GradientLayout.Read(dir.File("g.json"));
        Assert.That(layout.Segments, Is.EqualTo(new[] { 90, 630 }));
        Assert.That(layout.Rows, Is.EqualTo(3));
    }

    [Test]
    public void CheckGradients_NamesColumnsAndRows()
    {
        var layout = Cnn();
        Assert.DoesNotThrow(() => layout.CheckGradients(40, 324));
        Assert.That(() => layout.CheckGradients(40, 325, "G.npy"), Throws.ArgumentException.With.Message.Contains("G.npy has 325 columns").And.Message.Contains("d = 324"));
        Assert.That(() => layout.CheckGradients(41, 324), Throws.ArgumentException.With.Message.Contains("41 rows").And.Message.Contains("rows = 40"));
    }

    private static IEnumerable<TestCaseData> BadLayouts()
    {
        static TestCaseData Case(string name, string json, string mention) => new TestCaseData(json, mention).SetName("Parse_" + name + "_IsInvalidData");
        yield return Case("NotJson", "{\"segments\": [", "not valid JSON");
        yield return Case("Array", "[1, 2]", "JSON object");
        yield return Case("NoSegments", "{\"rows\": 3}", "\"segments\"");
        yield return Case("EmptySegments", "{\"segments\": []}", "at least one tensor");
        yield return Case("SegmentNotObject", "{\"segments\": [3]}", "segments[0] is not an object");
        yield return Case("NoName", "{\"segments\": [{\"shape\": [2], \"offset\": 0, \"length\": 2}]}", "\"name\"");
        yield return Case("NoShape", "{\"segments\": [{\"name\": \"w\", \"offset\": 0, \"length\": 2}]}", "'w'): missing the \"shape\"");
        yield return Case("ZeroDimension", "{\"segments\": [{\"name\": \"w\", \"shape\": [2, 0], \"offset\": 0, \"length\": 0}]}", "positive integers");
        yield return Case("FractionalDimension", "{\"segments\": [{\"name\": \"w\", \"shape\": [2.5], \"offset\": 0, \"length\": 2}]}", "positive integers");
        yield return Case("HugeDimension", "{\"segments\": [{\"name\": \"w\", \"shape\": [4294967296], \"offset\": 0, \"length\": 2}]}", "below 2^31");
        yield return Case("ProductOverflows", "{\"segments\": [{\"name\": \"w\", \"shape\": [65536, 65536, 65536], \"offset\": 0, \"length\": 2}]}", "more than 2^31 - 1 values");
        yield return Case("LengthNotProduct", "{\"segments\": [{\"name\": \"w\", \"shape\": [2, 3], \"offset\": 0, \"length\": 5}]}", "(6 values) but length 5");
        yield return Case("NegativeOffset", "{\"segments\": [{\"name\": \"w\", \"shape\": [2], \"offset\": -1, \"length\": 2}]}", "\"offset\" must be a non-negative");
        yield return Case("Gap", "{\"segments\": [{\"name\": \"a\", \"shape\": [2], \"offset\": 0, \"length\": 2}, {\"name\": \"b\", \"shape\": [2], \"offset\": 3, \"length\": 2}]}", "columns [2, 3) belong to no tensor");
        yield return Case("Overlap", "{\"segments\": [{\"name\": \"a\", \"shape\": [2], \"offset\": 0, \"length\": 2}, {\"name\": \"b\", \"shape\": [2], \"offset\": 1, \"length\": 2}]}", "inside the previous tensor");
        yield return Case("NotFromZero", "{\"segments\": [{\"name\": \"a\", \"shape\": [2], \"offset\": 4, \"length\": 2}]}", "columns [0, 4)");
        yield return Case("DuplicateName", "{\"segments\": [{\"name\": \"a\", \"shape\": [2], \"offset\": 0, \"length\": 2}, {\"name\": \"a\", \"shape\": [2], \"offset\": 2, \"length\": 2}]}", "'a' appears twice");
        yield return Case("DimensionDisagrees", "{\"dimension\": 5, \"segments\": [{\"name\": \"a\", \"shape\": [2], \"offset\": 0, \"length\": 2}]}", "\"dimension\" is 5 but the segments span 2");
        yield return Case("NegativeRows", "{\"rows\": -3, \"segments\": [{\"name\": \"a\", \"shape\": [2], \"offset\": 0, \"length\": 2}]}", "\"rows\" must be a non-negative");
        yield return Case("ZeroMinibatch", "{\"minibatch\": 0, \"segments\": [{\"name\": \"a\", \"shape\": [2], \"offset\": 0, \"length\": 2}]}", "minibatch must be at least 1");
        yield return Case("DeepNesting", "{\"segments\": [[[[[[[[[[1]]]]]]]]]]}", "not valid JSON");
    }

    [TestCaseSource(nameof(BadLayouts))]
    public void Parse_BadLayout_IsInvalidDataNamingTheProblem(string json, string mention)
    {
        Assert.That(() => GradientLayout.Parse(json, "g.json"),
            Throws.TypeOf<InvalidDataException>().With.Message.StartsWith("g.json: ").And.Message.Contains(mention));
    }

    [Test]
    public void Read_MissingOrNonUtf8File_IsRefused()
    {
        using var dir = new TempDir();
        Assert.That(() => GradientLayout.Read(dir.File("none.json")), Throws.TypeOf<FileNotFoundException>().With.Message.Contains("none.json"));
        File.WriteAllBytes(dir.File("bad.json"), [0x7b, 0xff, 0xfe, 0x7d]);
        Assert.That(() => GradientLayout.Read(dir.File("bad.json")), Throws.TypeOf<InvalidDataException>().With.Message.Contains("bad.json: not UTF-8"));
    }

    [Test]
    public void Constructor_RejectsInconsistentEntries_WithArgumentException()
    {
        Assert.That(() => new GradientLayout([new("w", [2, 2], 0, 3)]), Throws.ArgumentException.With.Message.Contains("(4 values) but length 3"));
        Assert.That(() => new GradientLayout([]), Throws.ArgumentException);
    }

    [Test]
    public void Write_IsAtomic_AndReadable()
    {
        using var dir = new TempDir();
        Cnn().Write(dir.File("g.json"));
        Assert.That(GradientLayout.Read(dir.File("g.json")).Dimension, Is.EqualTo(324));
        Assert.That(Directory.GetFiles(dir.Path), Has.Length.EqualTo(1));
    }
}
