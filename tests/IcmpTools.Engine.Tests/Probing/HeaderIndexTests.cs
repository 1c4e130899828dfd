using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using Xunit;

namespace IcmpTools.Engine.Tests.Probing;

/// <summary>The prober's index for matching without a cookie: by header, earliest first, exact payloads checked, foreign cookies refused.</summary>
public sealed class HeaderIndexTests
{
    private static readonly IpKey Target = IpKey.FromV4([127, 0, 0, 9]);
    private static readonly IpKey Other = IpKey.FromV4([127, 0, 0, 10]);

    private static IcmpMessage Reply(IpKey from, ushort identifier, ushort sequence) => new()
    {
        Kind = IcmpKind.EchoReply,
        Responder = from,
        ProbedDestination = from,
        Identifier = identifier,
        Sequence = sequence,
    };

    private static IcmpMessage Error(IpKey probed, ushort identifier, ushort sequence, ProbeCookie? quoted) => new()
    {
        Kind = IcmpKind.TimeExceeded,
        Responder = Other,
        ProbedDestination = probed,
        Identifier = identifier,
        Sequence = sequence,
        HasCookie = quoted is not null,
        Cookie = quoted ?? default,
    };

    [Fact]
    public void AProbeIsFoundByItsHeaderUntilItIsRemoved()
    {
        var index = new HeaderIndex();
        index.Add(7, Target, 100, 1, null);
        Assert.Equal(1, index.Count);

        Assert.True(index.TryFind(Reply(Target, 100, 1), 100, default, out var found));
        Assert.Equal(7, found);
        Assert.True(index.TryFind(Error(Target, 100, 1, null), 100, default, out found));
        Assert.Equal(7, found);

        index.Remove(7, Target, 100, 1);
        Assert.Equal(0, index.Count);
        Assert.False(index.TryFind(Reply(Target, 100, 1), 100, default, out found));
        Assert.Equal(-1, found);
    }

    [Fact]
    public void EveryHeaderFieldMustMatch()
    {
        var index = new HeaderIndex();
        index.Add(7, Target, 100, 1, null);

        Assert.False(index.TryFind(Reply(Other, 100, 1), 100, default, out _));
        Assert.False(index.TryFind(Reply(Target, 101, 1), 101, default, out _));
        Assert.False(index.TryFind(Reply(Target, 100, 2), 100, default, out _));
        // The identifier the caller passes decides (the kernel's, on a datagram socket), not the message's own.
        Assert.True(index.TryFind(Reply(Target, 555, 1), 100, default, out var found));
        Assert.Equal(7, found);
    }

    [Fact]
    public void ProbesWithOneHeaderAreFoundEarliestAddedFirstAndRemovedOneByOne()
    {
        var index = new HeaderIndex();
        index.Add(3, Target, 100, 1, null);
        index.Add(9, Target, 100, 1, null);
        index.Add(5, Target, 100, 1, null);
        Assert.Equal(3, index.Count);

        Assert.True(index.TryFind(Reply(Target, 100, 1), 100, default, out var found));
        Assert.Equal(3, found);
        index.Remove(9, Target, 100, 1);
        index.Remove(3, Target, 100, 1);
        Assert.True(index.TryFind(Reply(Target, 100, 1), 100, default, out found));
        Assert.Equal(5, found);
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void RemovingWhatIsNotIndexedChangesNothing()
    {
        var index = new HeaderIndex();
        index.Add(3, Target, 100, 1, null);

        index.Remove(4, Target, 100, 1);
        index.Remove(3, Target, 100, 2);
        index.Remove(3, Other, 100, 1);

        Assert.Equal(1, index.Count);
        Assert.True(index.TryFind(Reply(Target, 100, 1), 100, default, out var found));
        Assert.Equal(3, found);
    }

    [Fact]
    public void AReplyMustEchoAnExactPayloadWhole()
    {
        var index = new HeaderIndex();
        byte[] first = [1, 2, 3, 4];
        byte[] second = [9, 9, 9, 9];
        index.Add(3, Target, 100, 1, first);
        index.Add(4, Target, 100, 1, second);

        Assert.True(index.TryFind(Reply(Target, 100, 1), 100, second, out var found));
        Assert.Equal(4, found);
        Assert.True(index.TryFind(Reply(Target, 100, 1), 100, first, out found));
        Assert.Equal(3, found);
        Assert.False(index.TryFind(Reply(Target, 100, 1), 100, [1, 2, 3], out _));
        Assert.False(index.TryFind(Reply(Target, 100, 1), 100, [1, 2, 3, 4, 5], out _));
    }

    [Fact]
    public void AnErrorQuotingEightPayloadBytesMustQuoteTheStartOfAnExactPayload()
    {
        var index = new HeaderIndex();
        var ours = new ProbeCookie(0x0102_0304, 0x0506_0708);
        byte[] payload = [1, 2, 3, 4, 5, 6, 7, 8, 42, 43];
        index.Add(3, Target, 100, 1, payload);

        Assert.True(index.TryFind(Error(Target, 100, 1, ours), 100, default, out var found));
        Assert.Equal(3, found);
        Assert.False(index.TryFind(Error(Target, 100, 1, new ProbeCookie(0x0102_0304, 0x0506_0709)), 100, default, out _));
        // A quote of the header alone (8 bytes) cannot tell probes apart: the earliest takes it.
        Assert.True(index.TryFind(Error(Target, 100, 1, null), 100, default, out found));
        Assert.Equal(3, found);
    }

    [Fact]
    public void AnExactPayloadShorterThanEightBytesNeverMatchesAQuoteThatCarriesEight()
    {
        var index = new HeaderIndex();
        index.Add(3, Target, 100, 1, [1, 2, 3, 4]);

        Assert.False(index.TryFind(Error(Target, 100, 1, new ProbeCookie(0x0102_0304, 0)), 100, default, out _));
    }

    [Fact]
    public void AMessageCarryingACookieIsNotTakenByAProbeThatCarriedNone()
    {
        var index = new HeaderIndex();
        index.Add(3, Target, 100, 1, null);
        var foreign = new ProbeCookie(77, 78);

        // Another operation's or process's probe with the same header: its reply or error is not ours.
        var reply = Reply(Target, 100, 1);
        reply.HasCookie = true;
        reply.Cookie = foreign;
        Assert.False(index.TryFind(reply, 100, default, out _));
        Assert.False(index.TryFind(Error(Target, 100, 1, foreign), 100, default, out _));
    }
}
