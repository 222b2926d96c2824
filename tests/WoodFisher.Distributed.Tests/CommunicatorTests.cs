namespace WoodFisher.Distributed.Tests;

/// <summary>The in-process communicator's collectives against their definitions, and how it reports failures.</summary>
public class CommunicatorTests
{
    [Test]
    public void Collectives_ComputeTheirDefinitions([Values(1, 2, 5)] int size)
    {
        InProcessCommunicator.Run(size, comm =>
        {
            var r = comm.Rank;
            Span<long> l = [r, -r, 10 * r];
            comm.AllReduce(l, ReduceOperation.Sum);
            Assert.That(l.ToArray(), Is.EqualTo(new long[] { size * (size - 1) / 2, -size * (size - 1) / 2, 5 * size * (size - 1) }));
            Span<double> x = [r, r];
            comm.AllReduce(x[..1], ReduceOperation.Min);
            comm.AllReduce(x[1..], ReduceOperation.Max);
            Assert.That(x.ToArray(), Is.EqualTo(new double[] { 0, size - 1 }));

            Assert.That(comm.AllGather<int>([r, r * r]), Is.EqualTo(Enumerable.Range(0, size).SelectMany(k => new[] { k, k * k })));

            var counts = Enumerable.Range(0, size).Select(k => (long)k).ToArray();
            var mine = Enumerable.Repeat((byte)r, r).ToArray();
            var all = new byte[counts.Sum()];
            comm.AllGatherV(mine, all, counts);
            Assert.That(all, Is.EqualTo(Enumerable.Range(0, size).SelectMany(k => Enumerable.Repeat((byte)k, k))));

            var root = size - 1;
            var gathered = comm.Rank == root ? new double[counts.Sum()] : [];
            comm.GatherV<double>(Enumerable.Repeat(r + 0.5, r).ToArray(), gathered, counts, root);
            if (comm.Rank == root)
                Assert.That(gathered, Is.EqualTo(Enumerable.Range(0, size).SelectMany(k => Enumerable.Repeat(k + 0.5, k))));

            Span<long> b = [r == root ? 42 : 0, r == root ? 7 : 0];
            comm.Broadcast(b, root);
            Assert.That(b.ToArray(), Is.EqualTo(new long[] { 42, 7 }));
            comm.Barrier();
        });
    }

    [Test]
    public void ARankThatReturnsEarly_IsReportedAsAMismatch_NotAHang()
    {
        var ex = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(3, comm =>
        {
            if (comm.Rank != 0)
                comm.Barrier();
        }));
        Assert.That(ex!.InnerExceptions[0].Message, Does.Contain("called different collectives"));
    }

    [Test]
    public void Abort_StopsEveryRank()
    {
        var ex = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(3, comm =>
        {
            if (comm.Rank == 2)
                comm.Abort(3);
            comm.Barrier();
        }));
        Assert.That(ex!.InnerExceptions.Single(), Is.TypeOf<RankAbortedException>().With.Property("Code").EqualTo(3));
    }

    [Test]
    public void Agree_OnAFailure_ThrowsTheLowestFailingRanksMessageEverywhere()
    {
        var ex = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(4, comm =>
            RankFailure.Agree(comm, () =>
            {
                if (comm.Rank >= 2)
                    throw new InvalidDataException($"bad columns on {comm.Rank}");
            }, e => (e.Message, 7))));
        Assert.That(ex!.InnerExceptions, Has.Count.EqualTo(4));
        foreach (var e in ex.InnerExceptions.Cast<RankFailedException>())
        {
            Assert.That(e.Message, Is.EqualTo("rank 2 of 4: bad columns on 2"));
            Assert.That(e.Code, Is.EqualTo(7));
        }
    }

    [Test]
    public void Agree_WhenAllSucceed_ReturnsEachRanksResult()
    {
        var results = InProcessCommunicator.Run(3, comm => RankFailure.Agree(comm, () => comm.Rank * 2));
        Assert.That(results, Is.EqualTo(new[] { 0, 2, 4 }));
    }
}
