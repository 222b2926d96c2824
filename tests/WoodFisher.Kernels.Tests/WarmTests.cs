namespace WoodFisher.Kernels.Tests;

/// <summary>
/// <see cref="WoodFisherBuilder.Warm"/> runs both of the float32 Dense strategy's forms (what it is for: compiling them),
/// and completes for any block size and in float64.
/// </summary>
public class WarmTests
{
    [TestCase(8)]
    [TestCase(64)]
    [TestCase(400)]
    public void Warm_TakesTheWoodburyForm_ThenTheGram(int c)
    {
        var forms = WoodFisherBuilder.WarmForms(c, Precision.Float32);
        Assert.That(forms, Is.EqualTo(new[] { 2, 0 }), "both blocks of the first build in the Woodbury form, none of the second");
    }

    [TestCase(1, Precision.Float32)]
    [TestCase(2, Precision.Float32)]
    [TestCase(3, Precision.Float32)]
    [TestCase(64, Precision.Float64)]
    public void Warm_OfTinyBlocks_OrInFloat64_Completes(int c, Precision precision) => Assert.DoesNotThrow(() => WoodFisherBuilder.Warm(c, precision));
}
