using System.Text;
using WoodFisher.Kernels;

namespace WoodFisher.Distributed;

/// <summary>What one rank held and how long it worked, for progress lines and reports.</summary>
/// <param name="Rank">The rank.</param>
/// <param name="Host">The machine it ran on.</param>
/// <param name="FirstBlock">Its first block.</param>
/// <param name="Blocks">Its number of blocks.</param>
/// <param name="Start">Its first coordinate.</param>
/// <param name="Length">Its number of coordinates.</param>
/// <param name="InverseBytes">Bytes of its blocks of H⁻¹.</param>
/// <param name="ReadBytes">Bytes of G it read.</param>
/// <param name="PeakBytes">Its process's peak resident memory (Linux VmHWM; 0 where unknown).</param>
/// <param name="Seconds">Its seconds per phase, in the order of <paramref name="Phases"/>.</param>
/// <param name="Phases">Phase names.</param>
public sealed record RankReport(int Rank, string Host, int FirstBlock, int Blocks, int Start, int Length, long InverseBytes, long ReadBytes, long PeakBytes, IReadOnlyList<double> Seconds, IReadOnlyList<string> Phases)
{
    /// <summary>Total seconds over the phases.</summary>
    public double TotalSeconds => Seconds.Sum();

    /// <summary>One line: "rank 1 of 3 (host): blocks 40–79, d 4,000 (coordinates 4,000–7,999), inverse 1.6 MB, read 2 MB, peak 180 MB, 0.8 s (inverse 0.7, …)".</summary>
    public string Describe(int ranks)
    {
        var phases = string.Join(", ", Phases.Select((p, i) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{p} {Seconds[i]:0.00}")));
        var blocks = Blocks == 0 ? "no blocks" : $"blocks {FirstBlock}–{FirstBlock + Blocks - 1} (coordinates {Start}–{Start + Length - 1})";
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"rank {Rank} of {ranks} ({Host}): {blocks}, inverse {MemoryBudget.Human(InverseBytes)}, read {MemoryBudget.Human(ReadBytes)}, peak {(PeakBytes > 0 ? MemoryBudget.Human(PeakBytes) : "unknown")}, {TotalSeconds:0.00} s ({phases})");
    }

    /// <summary>Every rank's report, in rank order, on every rank (two all-gathers).</summary>
    /// <param name="comm">The ranks.</param>
    /// <param name="range">This rank's blocks.</param>
    /// <param name="inverseBytes">Bytes of this rank's blocks.</param>
    /// <param name="readBytes">Bytes of G this rank read.</param>
    /// <param name="phases">Phase names (the same on every rank).</param>
    /// <param name="seconds">This rank's seconds per phase.</param>
    public static RankReport[] Gather(ICommunicator comm, BlockRange range, long inverseBytes, long readBytes, IReadOnlyList<string> phases, IReadOnlyList<double> seconds)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(phases);
        ArgumentNullException.ThrowIfNull(seconds);
        var fields = 7 + phases.Count;
        var mine = new double[fields];
        mine[0] = range.FirstBlock;
        mine[1] = range.BlockCount;
        mine[2] = range.Start;
        mine[3] = range.Length;
        mine[4] = inverseBytes;
        mine[5] = readBytes;
        mine[6] = PeakResidentBytes();
        for (var p = 0; p < phases.Count; p++)
        {
            mine[7 + p] = seconds[p];
        }

        var all = comm.AllGather<double>(mine);
        var host = Encoding.UTF8.GetBytes(Environment.MachineName);
        var lengths = comm.AllGather<long>([host.Length]);
        var names = new byte[lengths.Sum()];
        comm.AllGatherV(host, names, lengths);
        var reports = new RankReport[comm.Size];
        var at = 0;
        for (var r = 0; r < comm.Size; r++)
        {
            var f = all.AsSpan(r * fields, fields);
            reports[r] = new RankReport(r, Encoding.UTF8.GetString(names, at, (int)lengths[r]), (int)f[0], (int)f[1], (int)f[2], (int)f[3], (long)f[4], (long)f[5], (long)f[6], f[7..].ToArray(), phases);
            at += (int)lengths[r];
        }

        return reports;
    }

    /// <summary>This process's peak resident set (VmHWM of /proc/self/status), or 0 where that is not available.</summary>
    public static long PeakResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return 0;
    }
}
