using System.Globalization;
using System.Text;

namespace WoodFisher.Fidelity;

/// <summary>One measured row: a pruned model's test accuracy and loss under one method and setting.</summary>
/// <param name="Model">Model name (file stem), e.g. "mlp".</param>
/// <param name="Part">oneshot, lambda, blocks, recompute, tensor, tensor-lambda, gradual or grads.</param>
/// <param name="Method">Method label, e.g. "woodfisher".</param>
/// <param name="Sparsity">Target sparsity.</param>
/// <param name="Setting">What distinguishes the run, e.g. "c=400 λ=auto" or "λ=1e-4".</param>
/// <param name="Lambda">λ used (the chosen one when automatic; NaN when none).</param>
/// <param name="Eta">WoodTaylor's η (NaN when none).</param>
/// <param name="Criterion">The damping criterion of this candidate (NaN when none).</param>
/// <param name="Accuracy">Test accuracy in [0, 1].</param>
/// <param name="Loss">Test loss.</param>
/// <param name="Seconds">Pruning seconds.</param>
internal sealed record Row(string Model, string Part, string Method, double Sparsity, string Setting, double Lambda, double Eta, double Criterion, double Accuracy, double Loss, double Seconds)
{
    public const string Header = "model,part,method,sparsity,setting,lambda,eta,criterion,accuracy,loss,seconds";

    public string Key => $"{Model}|{Part}|{Method}|{Sparsity.ToString("0.####", CultureInfo.InvariantCulture)}|{Setting}";

    public string ToCsv() => string.Join(',', Model, Part, Method, F(Sparsity), Setting, F(Lambda), F(Eta), F(Criterion), F(Accuracy), F(Loss), F(Seconds));

    public static Row Parse(string line)
    {
        var f = line.Split(',');
        return new Row(f[0], f[1], f[2], D(f[3]), f[4], D(f[5]), D(f[6]), D(f[7]), D(f[8]), D(f[9]), D(f[10]));
    }

    private static string F(double v) => double.IsNaN(v) ? "" : v.ToString("g6", CultureInfo.InvariantCulture);

    private static double D(string s) => s.Length == 0 ? double.NaN : double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}

/// <summary>The results CSV: rows appended as runs finish, so an interrupted run resumes where it stopped.</summary>
internal sealed class Results
{
    private readonly string _path;
    private readonly List<Row> _rows = [];

    public Results(string path)
    {
        _path = path;
        if (File.Exists(path))
        {
            _rows.AddRange(File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(Row.Parse));
        }
        else
        {
            File.WriteAllText(path, Row.Header + "\n");
        }
    }

    public IReadOnlyList<Row> Rows => _rows;

    public bool Has(string key) => _rows.Any(r => r.Key == key);

    public void Add(Row row)
    {
        _rows.Add(row);
        File.AppendAllText(_path, row.ToCsv() + "\n", Encoding.UTF8);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{row.Model} {row.Part} {row.Method} s={row.Sparsity:0.##} {row.Setting}: accuracy {100 * row.Accuracy:0.00}%, λ {row.Lambda:g3}, {row.Seconds:0.0} s"));
    }
}
