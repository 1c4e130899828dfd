using System.Buffers.Binary;
using FsCheck.Xunit;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Packets;

/// <summary>
/// Properties over generated packets (FsCheck): the checksum against RFC 1071 for any bytes, the writer and the
/// parser as inverses, and held-sum (Paris) probes whose checksum never moves. Example-based tests pin the known
/// vectors; these look for the input nobody thought of.
/// </summary>
public sealed class PacketProperties
{
    private static ushort OnesAdd(ushort a, ushort b)
    {
        var sum = (uint)a + b;
        return (ushort)((sum & 0xFFFF) + (sum >> 16));
    }

    // --- The checksum (RFC 1071) ---

    [Property(MaxTest = 500)]
    public void TheChecksumIsRfc1071sForAnyBytesOddLengthsIncluded(byte[] data) =>
        Assert.Equal(Reference.Checksum(data), InternetChecksum.Compute(data));

    [Property(MaxTest = 300)]
    public void AnOddLengthIsSummedAsIfPaddedWithAZeroByte(byte[] data, byte last)
    {
        var odd = data.Length % 2 == 1 ? data : [.. data, last];

        Assert.Equal(InternetChecksum.Compute([.. odd, 0]), InternetChecksum.Compute(odd));
    }

    [Property(MaxTest = 300)]
    public void AMessageCarryingItsChecksumVerifiesToZero(byte[] body)
    {
        // The ICMP layout: the checksum field at bytes 2-3, computed with the field zero, then written in.
        var message = new byte[4 + body.Length];
        body.CopyTo(message, 4);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), InternetChecksum.Compute(message));

        Assert.Equal(0, InternetChecksum.Compute(message));
    }

    [Property(MaxTest = 300)]
    public void SumsOfEvenLengthPartsAddUp(byte[] first, byte[] second)
    {
        // RFC 1071 section 2(C): the sum is parallel/incremental over 16-bit-aligned parts.
        var head = first.Length % 2 == 0 ? first : first[..^1];
        var whole = InternetChecksum.Compute([.. head, .. second]);
        var parts = (ushort)~OnesAdd((ushort)~InternetChecksum.Compute(head), (ushort)~InternetChecksum.Compute(second));

        Assert.Equal(whole, parts);
    }

    [Property(MaxTest = 300)]
    public void SwappingTheBytesOfEveryWordSwapsTheChecksum(byte[] data)
    {
        // RFC 1071 section 2(B): byte-order independence.
        var even = data.Length % 2 == 0 ? data : [.. data, 0];
        var swapped = new byte[even.Length];
        for (var i = 0; i < even.Length; i += 2)
        {
            swapped[i] = even[i + 1];
            swapped[i + 1] = even[i];
        }

        Assert.Equal(BinaryPrimitives.ReverseEndianness(InternetChecksum.Compute(even)), InternetChecksum.Compute(swapped));
    }

    // --- Writer and parser are inverses ---

    // Sizes come as seeds reduced into range, so every parameter stays a plain generated value that FsCheck shrinks.

    [Property(MaxTest = 300)]
    public void AnEchoRequestParsesBackToWhatWasWritten(ushort sizeSeed, ushort identifier, ushort sequence, uint session, uint serial, bool v6)
    {
        var size = sizeSeed % 1473;
        var family = v6 ? IcmpFamily.IPv6 : IcmpFamily.IPv4;
        var cookie = new ProbeCookie(session, serial);
        var packet = new byte[EchoRequestWriter.HeaderSize + size];

        var written = EchoRequestWriter.Write(packet, family, identifier, sequence, cookie, size, default, useExplicitPayload: false);
        var ok = v6 ? IcmpParser.TryParseV6(packet, out var parsed) : IcmpParser.TryParseV4Icmp(packet, out parsed);

        Assert.Equal(packet.Length, written);
        Assert.True(ok);
        Assert.Equal(IcmpKind.EchoRequest, parsed.Kind);
        Assert.Equal(identifier, parsed.Identifier);
        Assert.Equal(sequence, parsed.Sequence);
        Assert.Equal(size >= ProbeCookie.Size, parsed.HasCookie);
        if (parsed.HasCookie)
        {
            Assert.Equal(cookie, parsed.Cookie);
        }
        Assert.Equal(size, parsed.PayloadLength);
        if (!v6)
        {
            // IPv4 carries its own checksum (IPv6's is the kernel's, over a pseudo-header).
            Assert.Equal(0, InternetChecksum.Compute(packet));
        }
    }

    [Property(MaxTest = 200)]
    public void AnErrorQuotingOurProbeLeadsBackToIt(byte sizeSeed, byte optionSeed, ushort identifier, ushort sequence, uint session, uint serial)
    {
        // A router's Time Exceeded quoting our whole request (an IPv4 header of any length, then ICMP).
        var size = sizeSeed % 201;
        var optionWords = optionSeed % 11;
        var cookie = new ProbeCookie(session, serial);
        var quoted = Wire.QuotedProbeV4(cookie, identifier, sequence, size, optionWords);
        var datagram = Wire.IPv4(Wire.Error(11, 0, quoted), source: "198.18.2.2");

        Assert.True(IcmpParser.TryParseV4(datagram, out var parsed));
        Assert.Equal(IcmpKind.TimeExceeded, parsed.Kind);
        Assert.Equal(Wire.Key(Wire.Target), parsed.QuotedDestination);
        Assert.Equal(identifier, parsed.Identifier);
        Assert.Equal(sequence, parsed.Sequence);
        Assert.Equal(size >= ProbeCookie.Size, parsed.HasCookie);
        if (parsed.HasCookie)
        {
            Assert.Equal(cookie, parsed.Cookie);
        }
    }

    // --- Held-sum (Paris) probes ---

    [Property(MaxTest = 300)]
    public void AHeldSumProbeKeepsItsChecksumWhateverItsSequenceAndCookie(ushort sizeSeed, ushort heldSeed, ushort identifier,
        ushort first, ushort second, uint serialA, uint serialB, bool v6)
    {
        // A per-flow balancer hashes the checksum: every probe of one flow must carry the same one.
        var size = EchoRequestWriter.MinHeldSumPayload + (sizeSeed % 503);
        var held = 1 + (heldSeed % 0xFFFE);
        var family = v6 ? IcmpFamily.IPv6 : IcmpFamily.IPv4;
        var a = new byte[EchoRequestWriter.HeaderSize + size];
        var b = new byte[EchoRequestWriter.HeaderSize + size];
        EchoRequestWriter.Write(a, family, identifier, first, new ProbeCookie(0xC0FFEE, serialA), size, default, false, held);
        EchoRequestWriter.Write(b, family, identifier, second, new ProbeCookie(0xC0FFEE, serialB), size, default, false, held);

        // The one's-complement sum of the message (checksum field zero) is the held value...
        Assert.Equal(held, SumWithoutChecksum(a));
        Assert.Equal(held, SumWithoutChecksum(b));
        if (!v6)
        {
            // ...so the IPv4 checksum field is the same in both, and valid.
            Assert.Equal(a[2..4], b[2..4]);
            Assert.Equal(0, InternetChecksum.Compute(a));
        }
        // And the probes still say who they are.
        Assert.True(v6 ? IcmpParser.TryParseV6(b, out var parsed) : IcmpParser.TryParseV4Icmp(b, out parsed));
        Assert.Equal(second, parsed.Sequence);
        Assert.Equal(new ProbeCookie(0xC0FFEE, serialB), parsed.Cookie);
    }

    private static ushort SumWithoutChecksum(byte[] message)
    {
        var copy = message.ToArray();
        copy[2] = 0;
        copy[3] = 0;
        return (ushort)~InternetChecksum.Compute(copy);
    }
}
