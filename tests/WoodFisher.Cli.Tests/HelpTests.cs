using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.Cli.Options;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Tests;

/// <summary>
/// <c>--help</c> for the root and for every verb the root lists (discovered from its help, not hard-coded): exit 0, every
/// option of the verb's settings shown with its default, required options marked.
/// </summary>
[NonParallelizable]
public class HelpTests : CliFixture
{
    /// <summary>The verbs the root's help lists under COMMANDS.</summary>
    private static string[] ListedVerbs()
    {
        CliConsole.InteractiveOverride = false;
        var (code, stdout, _) = Run("--help");
        Assert.That(code, Is.Zero);
        return [.. stdout.Split('\n').SkipWhile(l => !l.StartsWith("COMMANDS:", StringComparison.Ordinal)).Skip(1)
            .Where(l => l.StartsWith("    ", StringComparison.Ordinal) && !l.StartsWith("      ", StringComparison.Ordinal))
            .Select(l => l.Trim().Split(' ')[0])];
    }

    private static IEnumerable<string> Verbs() => ListedVerbs();

    [Test]
    public void RootHelp_ListsEveryVerb()
    {
        var listed = ListedVerbs();
        Assert.That(listed, Is.EquivalentTo(Program.Verbs.Select(v => v.Name)));
        Assert.That(listed, Has.Length.GreaterThanOrEqualTo(11));
    }

    [TestCaseSource(nameof(Verbs))]
    public void VerbHelp_ExitsZero_ShowsEveryOptionWithItsDefault_AndMarksTheRequired(string verb)
    {
        var (code, stdout, stderr) = Run(verb, "--help");
        Assert.That(code, Is.Zero, stderr);
        var lines = stdout.Split('\n');
        var settings = Program.Verbs.Single(v => v.Name == verb).Command.BaseType!.GetGenericArguments()[0];
        var options = settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => (Property: p, Option: p.GetCustomAttribute<CommandOptionAttribute>()))
            .Where(o => o.Option is not null)
            .ToList();
        Assert.That(options, Is.Not.Empty);
        foreach (var (property, option) in options)
        {
            var name = "--" + option!.LongNames[0];
            var line = lines.FirstOrDefault(l => l.TrimStart().StartsWith(name + " ", StringComparison.Ordinal) || l.Trim() == name);
            Assert.That(line, Is.Not.Null, $"{verb} --help shows {name}");
            Assert.That(property.GetCustomAttribute<System.ComponentModel.DescriptionAttribute>(), Is.Not.Null, $"{verb} {name} has a description");
            if (property.GetCustomAttribute<DefaultValueAttribute>()?.Value is { } value)
            {
                var shown = Convert.ToString(value, CultureInfo.InvariantCulture)!;
                Assert.That(line, Does.Contain(" " + shown.Split(',')[0]), $"{verb} {name} shows its default {shown}");
            }
        }
        var required = options.Count(o => o.Option!.IsRequired);
        Assert.That(stdout.Split("Required").Length - 1, Is.EqualTo(required), $"{verb}: every required option, and only those, is marked");
    }

    // One default per concept: the CLI shows the library's defaults, so every verb and the library agree.
    [Test]
    public void OptionDefaults_AreTheLibrarysDefaults()
    {
        static object? Default(Type t, string property) => t.GetProperty(property)!.GetCustomAttribute<DefaultValueAttribute>()?.Value;
        Assert.Multiple(() =>
        {
            Assert.That(Vocabulary.BlockSize((string)Default(typeof(EstimatorSettings), nameof(EstimatorSettings.Block))!), Is.EqualTo(new EstimatorSpec().BlockSize));
            Assert.That(Vocabulary.Damping((string)Default(typeof(EstimatorSettings), nameof(EstimatorSettings.Damping))!), Is.EqualTo(new EstimatorSpec().Damping));
            Assert.That(Default(typeof(SampleSettings), nameof(SampleSettings.Samples)), Is.EqualTo(EstimatorSpec.DefaultSamples));
            Assert.That(Default(typeof(PrunerSettings), nameof(PrunerSettings.Update)), Is.EqualTo(Vocabulary.Name(new PrunerOptions().Update)));
            Assert.That(Default(typeof(PrunerSettings), nameof(PrunerSettings.TaylorStep)), Is.Null, "η is searched unless given");
            Assert.That(Default(typeof(TrainingSettings), nameof(TrainingSettings.Batch)), Is.EqualTo(new Models.Training.TrainerOptions().BatchSize));
            Assert.That(Default(typeof(TrainingSettings), nameof(TrainingSettings.Momentum)), Is.EqualTo(new Models.Training.TrainerOptions().Momentum));
            Assert.That(Default(typeof(Commands.TrainCommand.Settings), nameof(TrainingSettings.Lr)), Is.EqualTo(Default(typeof(TrainingSettings), nameof(TrainingSettings.Lr))));
        });
    }

    // train declares the training options itself (its settings take none of the pruning options TrainingSettings inherits):
    // both declarations must be the same options, but for --epochs, which train requires.
    [Test]
    public void TrainingOptions_OfTrain_AreThoseOfTheVerbsThatPruneAndTrain()
    {
        static (string Template, string? Help, object? Default, bool Required) Of(PropertyInfo p) =>
            (string.Join('|', p.GetCustomAttribute<CommandOptionAttribute>()!.LongNames) + " " + p.GetCustomAttribute<CommandOptionAttribute>()!.ValueName,
                p.GetCustomAttribute<HelpAttribute>()?.Text, p.GetCustomAttribute<DefaultValueAttribute>()?.Value, p.GetCustomAttribute<CommandOptionAttribute>()!.IsRequired);
        var shared = typeof(TrainingSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(p => p.GetCustomAttribute<CommandOptionAttribute>() is not null).ToList();
        Assert.That(shared.Select(p => p.Name), Is.EquivalentTo(typeof(ITrainingOptions).GetProperties().Select(p => p.Name).Where(n => n != nameof(ITrainingOptions.Seed))));
        foreach (var p in shared)
        {
            var train = typeof(Commands.TrainCommand.Settings).GetProperty(p.Name)!;
            Assert.That(Of(train) with { Required = false }, Is.EqualTo(Of(p)), p.Name);
            Assert.That(Of(train).Required, Is.EqualTo(p.Name == nameof(ITrainingOptions.Epochs)), p.Name);
        }
    }

    // Every option that was renamed to the one vocabulary is refused, on every verb that has the new name, with the new
    // name suggested; and a usage error exits 2.
    [Test]
    public void RenamedOptions_AreRefusedOnEveryVerb_SuggestingTheNewName()
    {
        var checkedPairs = 0;
        foreach (var (verb, command, _) in Program.Verbs)
        {
            var options = Program.OptionsOf(command);
            foreach (var (old, now) in OptionCheck.Renamed)
            {
                if (!options.Contains(now) || options.Contains(old))
                    continue;
                var (code, stdout, stderr) = Run(verb, old, "x");
                Assert.That(code, Is.EqualTo(2), $"{verb} {old}");
                Assert.That(stdout, Is.Empty);
                Assert.That(stderr.Trim(), Is.EqualTo($"woodfisher: {verb}: unknown option {old} (did you mean {now}?); see woodfisher {verb} --help"));
                checkedPairs++;
            }
        }
        Assert.That(checkedPairs, Is.GreaterThan(20));
    }

    // The help of a one-method --method names the registry's methods, all of them and in its order.
    [Test]
    public void OneMethodHelp_NamesEveryMethodOfTheRegistry()
    {
        var names = PruningMethod.All.Select(m => m.Name).ToArray();
        var listed = PrunerSettings.OneMethodHelp.Split(", with keys")[0];
        Assert.That(listed, Is.EqualTo(string.Join(", ", names[..^1]) + " or " + names[^1]));
    }

    [TestCase("prune", "--model", "m.safetensors", "--sparsity", "0.5", "--out", "x.safetensors")]
    [TestCase("gradual", "--model", "m.safetensors", "--epochs", "2", "--sparsity", "0.5", "--out", "x.safetensors", "--log", "x.csv")]
    public void OneMethodVerbs_RefuseSeveralMethods(string verb, params string[] args)
    {
        var (code, stdout, stderr) = Run([verb, .. args, "--method", "magnitude,woodfisher"]);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stdout, Is.Empty);
        Assert.That(stderr.Trim(), Is.EqualTo($"woodfisher: --method: {verb} takes one method, got 2 (magnitude,woodfisher)"));
    }

    [Test]
    public void MisspelledVerb_GetsTheNearestVerb()
    {
        var (code, _, stderr) = Run("prnue", "--sparsity", "0.5");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.StartWith("woodfisher: unknown verb prnue (did you mean prune?)"));
    }

    [TestCase("prune", "--sparsty", "--sparsity")]
    [TestCase("train", "--epoch", "--epochs")]
    [TestCase("fisher", "--dampin", "--damping")]
    [TestCase("study", "--metod", "--method")]
    public void MisspelledOptions_GetTheNearestName(string verb, string typo, string meant)
    {
        var (code, _, stderr) = Run(verb, typo, "1");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain($"unknown option {typo} (did you mean {meant}?)"));
    }

    // Usage errors (the command line cannot run as written) exit 2; failures of a run that could start exit 1.
    [TestCase(2, "prune", "--sparsity", "0.5", "--out", "x", "--model", "m", "--update", "sideways")]
    [TestCase(2, "prune", "--out", "x", "--model", "m")]
    [TestCase(2, "train", "--arch", "mlp:784-8-10", "--epochs", "two", "--out", "x")]
    [TestCase(2, "eval", "--model")]
    [TestCase(2, "nosuchverb")]
    [TestCase(1, "eval", "--model", "MISSING")]
    [TestCase(1, "inspect", "CORRUPT")]
    public void ExitCodes_UsageIsTwo_FailureIsOne(int expected, params string[] args)
    {
        File.WriteAllBytes(P("corrupt.npy"), [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 200, 0]);
        var full = args.Select(a => a switch { "MISSING" => P("missing.safetensors"), "CORRUPT" => P("corrupt.npy"), _ => a }).ToArray();
        var (code, stdout, stderr) = Run(full);
        Assert.That(code, Is.EqualTo(expected), stderr);
        Assert.That(stdout, Is.Empty);
        Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1).And.All.StartWith("woodfisher: "), "one line");
    }
}
