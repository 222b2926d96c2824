using System.Text.Json;
using System.Text.Json.Nodes;
using WoodFisher.Distributed;

namespace WoodFisher.Cli.Distributed;

/// <summary>
/// What a distributed run tells about its ranks: the plan before the work (stderr, rank 0), each rank's bytes and
/// seconds after it (stderr, rank 0), and the same in the JSON report (<c>Ranks</c>, <c>Communicator</c>,
/// <c>ThresholdSearch</c>).
/// </summary>
internal static class RankLines
{
    /// <summary>One line per rank: its blocks, coordinates and the bytes its blocks will take.</summary>
    public static void Plan(ICommunicator world, RankPlan plan, long rows)
    {
        var layout = plan.Layout;
        CliConsole.Note($"{world.Description}: d = {layout.Dimension:N0} in {layout.Count:N0} blocks of c = {layout.BlockSize}{(rows > 0 ? $", m = {rows:N0} rows, {plan.Strategy.ToString().ToLowerInvariant()} strategy" : "")}");
        for (var r = 0; r < plan.Size; r++)
        {
            var range = plan[r];
            long elements = 0;
            for (var b = range.FirstBlock; b < range.FirstBlock + range.BlockCount; b++)
                elements += (long)layout.Size(b) * layout.Size(b);
            CliConsole.Note(range.IsEmpty
                ? $"rank {r} of {plan.Size}: no blocks (more ranks than blocks)"
                : $"rank {r} of {plan.Size}: blocks {range.FirstBlock:N0}–{range.FirstBlock + range.BlockCount - 1:N0}, coordinates {range.Start:N0}–{range.End - 1:N0}, Σc² = {elements:N0} block elements ({MemoryBudget.Human(elements * sizeof(float))} in float32)");
        }
    }

    /// <summary>Each rank's bytes and seconds (<see cref="RankReport.Describe"/>).</summary>
    public static void Print(IReadOnlyList<RankReport> reports)
    {
        foreach (var r in reports)
            CliConsole.Note(r.Describe(reports.Count));
    }

    /// <summary>The report's JSON with the ranks, the communicator and the threshold search's traffic added.</summary>
    public static string WithRanks(string reportJson, ICommunicator world, IReadOnlyList<RankReport> reports, DistributedSelectionResult selection)
    {
        var root = JsonNode.Parse(reportJson)!.AsObject();
        root["Communicator"] = world.Description;
        root["ThresholdSearch"] = new JsonObject { ["Collectives"] = selection.Collectives, ["BytesPerRank"] = selection.Bytes };
        root["Ranks"] = Ranks(reports);
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>The ranks' reports as a JSON array.</summary>
    public static JsonArray Ranks(IReadOnlyList<RankReport> reports)
    {
        var ranks = new JsonArray();
        foreach (var r in reports)
        {
            var seconds = new JsonObject();
            for (var p = 0; p < r.Phases.Count; p++)
                seconds[r.Phases[p]] = Math.Round(r.Seconds[p], 3);
            ranks.Add(new JsonObject
            {
                ["Rank"] = r.Rank,
                ["Host"] = r.Host,
                ["FirstBlock"] = r.FirstBlock,
                ["Blocks"] = r.Blocks,
                ["Start"] = r.Start,
                ["Length"] = r.Length,
                ["InverseBytes"] = r.InverseBytes,
                ["ReadBytes"] = r.ReadBytes,
                ["PeakBytes"] = r.PeakBytes,
                ["Seconds"] = seconds,
            });
        }

        return ranks;
    }
}
