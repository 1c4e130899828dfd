using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Probing;
using Xunit;
using static IcmpTools.Engine.Probing.ProbeTable;

namespace IcmpTools.Engine.Tests.Probing;

/// <summary>The prober's probe table: growth in chunks, whole batches or none, FIFO reuse under new serials, failure.</summary>
public sealed class ProbeTableTests
{
    [Fact]
    public void TheTableGrowsOneChunkAtATimeAsProbesAreReserved()
    {
        var table = new ProbeTable(IcmpFamily.IPv4);
        Assert.Equal(0, table.Capacity);
        Assert.False(table.IsAllocated(0));

        var one = new int[1];
        Assert.True(table.TryReserve(one, out var room));
        Assert.True(room.IsCompleted);
        Assert.Equal(ChunkSize, table.Capacity);
        Assert.Equal(1, table.InFlight);
        Assert.True(table.IsAllocated(ChunkSize - 1));
        Assert.False(table.IsAllocated(ChunkSize));

        // One short of a batch: the table grows by a whole chunk, not by the shortfall.
        var batch = new int[ChunkSize];
        Assert.True(table.TryReserve(batch, out _));
        Assert.Equal(2 * ChunkSize, table.Capacity);
        Assert.Equal(ChunkSize + 1, table.InFlight);
        Assert.True(table.IsAllocated((2 * ChunkSize) - 1));
        Assert.Equal(ChunkSize + 1, one.Concat(batch).Distinct().Count());
    }

    [Fact]
    public void AReservedSlotIsReservedUnderASerialThatNamesIt()
    {
        var table = new ProbeTable(IcmpFamily.IPv4);
        var indices = new int[5];
        Assert.True(table.TryReserve(indices, out _));

        foreach (var index in indices)
        {
            var word = Volatile.Read(ref table.SlotAt(index).Word);
            Assert.Equal(Reserved, StateOf(word));
            Assert.Equal((uint)index, SerialOf(word) & IndexMask);
        }
    }

    [Fact]
    public void AFullTableRefusesAWholeBatchAndTheFirstReleaseMakesRoom()
    {
        var table = new ProbeTable(IcmpFamily.IPv4);
        var all = new int[MaxSlots - 1];
        Assert.True(table.TryReserve(all, out _));
        Assert.Equal(MaxSlots, table.Capacity);
        Assert.Equal(MaxSlots - 1, all.Distinct().Count());

        // Two wanted, one free: nothing is taken, so a batch is never half sent.
        Assert.False(table.TryReserve(new int[2], out var room));
        Assert.False(room.IsCompleted);
        Assert.Equal(MaxSlots - 1, table.InFlight);

        var last = new int[1];
        Assert.True(table.TryReserve(last, out _));
        Assert.Equal(MaxSlots, table.InFlight);
        Assert.DoesNotContain(last[0], all);
        Assert.False(table.TryReserve(new int[1], out var stillFull));
        Assert.Same(room, stillFull);
        Assert.False(room.IsCompleted);

        table.Release(all[123]);
        Assert.True(room.IsCompleted);
        var again = new int[1];
        Assert.True(table.TryReserve(again, out _));
        Assert.Equal(all[123], again[0]);
        Assert.Equal(MaxSlots, table.Capacity);
    }

    [Fact]
    public void AFreedSlotIsReusedLastAndUnderANewSerialThatOldHandlesCannotTouch()
    {
        var table = new ProbeTable(IcmpFamily.IPv4);
        var first = new int[1];
        Assert.True(table.TryReserve(first, out _));
        var index = first[0];
        ref var slot = ref table.SlotAt(index);
        var oldSerial = SerialOf(slot.Word);
        slot.Timeout = 50;
        Volatile.Write(ref slot.Word, Word(oldSerial, Pending));
        Assert.True(table.TrySetDeadline(index, oldSerial, 100));
        Assert.Equal(100, slot.Deadline);

        Volatile.Write(ref slot.Word, Word(oldSerial, Closed));
        table.Release(index);
        // First in, first out: every other free slot of the chunk is handed out before this one again.
        var others = new int[ChunkSize - 1];
        Assert.True(table.TryReserve(others, out _));
        Assert.DoesNotContain(index, others);
        var reused = new int[1];
        Assert.True(table.TryReserve(reused, out _));
        Assert.Equal(index, reused[0]);
        Assert.Equal(ChunkSize, table.Capacity);

        var newSerial = SerialOf(slot.Word);
        Assert.NotEqual(oldSerial, newSerial);
        Assert.Equal((uint)index, newSerial & IndexMask);
        Assert.Equal((oldSerial >> IndexBits) + 1, newSerial >> IndexBits);
        slot.SentTimestamp = 1;
        slot.Deadline = 51;
        Volatile.Write(ref slot.Word, Word(newSerial, Pending));

        // The previous probe's serial no longer names this slot's probe: its deadline and times stay.
        Assert.False(table.TrySetDeadline(index, oldSerial, 5));
        table.RestampPending(index, oldSerial, 900, 900);
        Assert.Equal(51, slot.Deadline);
        Assert.Equal(1, slot.SentTimestamp);

        table.RestampPending(index, newSerial, 1000, 7);
        Assert.Equal(1000, slot.SentTimestamp);
        Assert.Equal(7, slot.SentRealtimeNs);
        Assert.Equal(1050, slot.Deadline);
        Assert.True(table.TrySetDeadline(index, newSerial, 2000));
        Assert.Equal(2000, slot.Deadline);
    }

    [Fact]
    public void ADeadlineOnlyMovesWhileItsProbeIsPending()
    {
        var table = new ProbeTable(IcmpFamily.IPv6);
        var one = new int[1];
        Assert.True(table.TryReserve(one, out _));
        ref var slot = ref table.SlotAt(one[0]);
        var serial = SerialOf(slot.Word);
        slot.Deadline = 10;

        Assert.False(table.TrySetDeadline(one[0], serial, 99));
        Volatile.Write(ref slot.Word, Word(serial, Answered));
        Assert.False(table.TrySetDeadline(one[0], serial, 99));
        Assert.Equal(10, slot.Deadline);
    }

    [Fact]
    public void AFailedTableWakesItsWaitersAndRefusesEveryReservationWithTheFailure()
    {
        var table = new ProbeTable(IcmpFamily.IPv6);
        Assert.True(table.TryReserve(new int[MaxSlots], out _));
        Assert.False(table.TryReserve(new int[1], out var room));
        var error = new InvalidOperationException("socket gone");

        Assert.Equal(MaxSlots, table.Fail(error));
        Assert.Same(error, table.Failure);
        Assert.False(room.IsCompleted);
        table.WakeWaiters();
        Assert.True(room.IsCompleted);

        table.Release(0);
        var refused = Assert.Throws<SocketUnavailableException>(() => table.TryReserve(new int[1], out _));
        Assert.Same(error, refused.InnerException);
        Assert.Contains("IPv6", refused.Message, StringComparison.Ordinal);
        Assert.Equal(MaxSlots - 1, table.InFlight);
    }

    [Theory]
    [InlineData(10, 5, 15)]
    [InlineData(10, 0, 11)]
    [InlineData(10, -3, 11)]
    [InlineData(long.MaxValue - 5, 100, long.MaxValue - 1)]
    [InlineData(0, long.MaxValue, long.MaxValue - 1)]
    public void ADeadlineIsTheSendTimePlusAtLeastOneTickAndNeverWraps(long sent, long timeout, long expected)
    {
        Assert.Equal(expected, DeadlineOf(sent, timeout));
    }

    [Fact]
    public async Task SendersReservingAndReleasingAtOnceNeverHoldOneSlotTwice()
    {
        var table = new ProbeTable(IcmpFamily.IPv4);
        var holder = new int[MaxSlots];
        var clashes = 0;
        // Bounded in count: four senders, 2,000 batches of eight each; the table never fills, so none waits.
        var senders = Enumerable.Range(1, 4).Select(sender => Task.Run(() =>
        {
            var batch = new int[8];
            for (var round = 0; round < 2000; round++)
            {
                Assert.True(table.TryReserve(batch, out _));
                foreach (var index in batch)
                {
                    if (Interlocked.Exchange(ref holder[index], sender) != 0)
                    {
                        Interlocked.Increment(ref clashes);
                    }
                }
                foreach (var index in batch)
                {
                    Volatile.Write(ref holder[index], 0);
                    table.Release(index);
                }
            }
        })).ToArray();
        await Task.WhenAll(senders);

        Assert.Equal(0, clashes);
        Assert.Equal(0, table.InFlight);
        Assert.Equal(ChunkSize, table.Capacity);
    }
}
