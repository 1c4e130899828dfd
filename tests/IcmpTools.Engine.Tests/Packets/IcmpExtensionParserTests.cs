using System.Buffers.Binary;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;
using Xunit;
using static IcmpTools.Engine.Tests.Packets.ExtensionWire;

namespace IcmpTools.Engine.Tests.Packets;

/// <summary>RFC 4884 extension structures: where they are, what MPLS and interface objects say, and every malformed shape ignored.</summary>
public sealed class IcmpExtensionParserTests
{
    private static readonly ProbeCookie Cookie = new(0xC0FFEE, 7);

    private static byte[] TimeExceededV4(byte[] structure, int originalLength = 128, int? lengthAttribute = null) =>
        Error(false, 11, 0, Wire.QuotedProbeV4(Cookie), originalLength, lengthAttribute ?? originalLength / 4, structure);

    private static byte[] TimeExceededV6(byte[] structure, int originalLength = 128, int? lengthAttribute = null) =>
        Error(true, 3, 0, Wire.QuotedProbeV6(Cookie), originalLength, lengthAttribute ?? originalLength / 8, structure);

    private static readonly byte[] TwoLabels = Structure(Mpls(MplsEntry(24001, 0, false, 1), MplsEntry(16, 5, true, 254)));

    [Fact]
    public void ACompliantIPv4TimeExceededCarriesTheMplsLabelListTopFirst()
    {
        var extensions = IcmpExtensionParser.Parse(TimeExceededV4(TwoLabels), IcmpFamily.IPv4);

        Assert.NotNull(extensions);
        Assert.Equal([new MplsLabel(24001, 0, false, 1), new MplsLabel(16, 5, true, 254)], extensions.Mpls);
        Assert.Equal("L=24001,TC=0,S=0,TTL=1 L=16,TC=5,S=1,TTL=254", extensions.Mpls.ToString());
        Assert.Empty(extensions.InterfaceInfo);
    }

    [Fact]
    public void ALongerOriginalDatagramIsSkippedByItsLengthAttribute()
    {
        var extensions = IcmpExtensionParser.Parse(TimeExceededV4(TwoLabels, originalLength: 160), IcmpFamily.IPv4);

        Assert.Equal(2, extensions?.Mpls.Count);
    }

    [Fact]
    public void ACompliantICMPv6TimeExceededCountsItsLengthIn64BitWords()
    {
        var message = TimeExceededV6(TwoLabels, originalLength: 136);

        Assert.Equal(17, message[4]);
        Assert.Equal(2, IcmpExtensionParser.Parse(message, IcmpFamily.IPv6)?.Mpls.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ANonCompliantSenderIsReadAt128BytesWhenItsChecksumHolds(bool ipv6)
    {
        var message = ipv6 ? TimeExceededV6(TwoLabels, lengthAttribute: 0) : TimeExceededV4(TwoLabels, lengthAttribute: 0);

        Assert.Equal(2, IcmpExtensionParser.Parse(message, ipv6 ? IcmpFamily.IPv6 : IcmpFamily.IPv4)?.Mpls.Count);
    }

    [Fact]
    public void ANonCompliantGuessWithABadChecksumIsNoExtension()
    {
        var message = TimeExceededV4(Structure(true, 2, Mpls(MplsEntry(1, 0, true, 1))), lengthAttribute: 0);

        Assert.Null(IcmpExtensionParser.Parse(message, IcmpFamily.IPv4));
    }

    [Fact]
    public void InterfaceInformationNamesRoleIndexAddressNameAndMtu()
    {
        var structure = Structure(
            Interface(0, ifIndex: 7, address: "198.18.3.1", name: "to-r2", mtu: 1400),
            Interface(2, address: "2001:db8:3::2"),
            Interface(3, name: "ae0.100"));

        var extensions = IcmpExtensionParser.Parse(TimeExceededV4(structure), IcmpFamily.IPv4);

        Assert.NotNull(extensions);
        Assert.Equal(
            [
                new InterfaceInfo(InterfaceRole.Incoming, 7, "198.18.3.1", "to-r2", 1400),
                new InterfaceInfo(InterfaceRole.Outgoing, null, "2001:db8:3::2", null, null),
                new InterfaceInfo(InterfaceRole.NextHop, null, null, "ae0.100", null),
            ],
            extensions.InterfaceInfo);
        Assert.Equal("Incoming:ifIndex=7,addr=198.18.3.1,name=to-r2,mtu=1400", extensions.InterfaceInfo[0].ToString());
    }

    [Fact]
    public void AnInterfaceNameCannotWriteControlCharactersToTheConsole()
    {
        var extensions = IcmpExtensionParser.Parse(TimeExceededV4(Structure(Interface(0, name: "a\u001b[2Jb"))), IcmpFamily.IPv4);

        Assert.Equal("a?[2Jb", extensions?.InterfaceInfo[0].Name);
    }

    [Fact]
    public void AnUnknownObjectIsKeptAsClassTypeAndBytes()
    {
        var structure = Structure(Object(3, 1, [0xDE, 0xAD, 0xBE, 0xEF]), Mpls(MplsEntry(100, 0, true, 1)));

        var extensions = IcmpExtensionParser.Parse(TimeExceededV4(structure), IcmpFamily.IPv4);

        Assert.NotNull(extensions);
        var other = Assert.Single(extensions.Other);
        Assert.Equal((3, 1, "DEADBEEF"), (other.ClassNum, other.CType, Convert.ToHexString(other.Data)));
        Assert.Equal("3/1:DEADBEEF", extensions.Other.ToString());
        Assert.Single(extensions.Mpls);
    }

    [Fact]
    public void DestinationUnreachableAndParameterProblemMayCarryExtensionsEchoRepliesAndPacketTooBigNot()
    {
        Assert.NotNull(IcmpExtensionParser.Parse(Error(false, 3, 1, Wire.QuotedProbeV4(Cookie), 128, 32, TwoLabels), IcmpFamily.IPv4));
        Assert.NotNull(IcmpExtensionParser.Parse(Error(false, 12, 0, Wire.QuotedProbeV4(Cookie), 128, 32, TwoLabels), IcmpFamily.IPv4));
        Assert.NotNull(IcmpExtensionParser.Parse(Error(true, 1, 0, Wire.QuotedProbeV6(Cookie), 128, 16, TwoLabels), IcmpFamily.IPv6));
        Assert.Null(IcmpExtensionParser.Parse(Error(true, 2, 0, Wire.QuotedProbeV6(Cookie), 128, 16, TwoLabels), IcmpFamily.IPv6));
        Assert.Null(IcmpExtensionParser.Parse(Error(false, 0, 0, Wire.QuotedProbeV4(Cookie), 128, 32, TwoLabels), IcmpFamily.IPv4));
    }

    /// <summary>Each malformed shape: the parser says "no extensions" and never throws.</summary>
    public static TheoryData<string, byte[]> Malformed() => new()
    {
        { "version 1", TimeExceededV4(Structure(false, 1, Mpls(MplsEntry(1, 0, true, 1)))) },
        { "bad checksum", TimeExceededV4(Structure(true, 2, Mpls(MplsEntry(1, 0, true, 1)))) },
        { "object length 2", TimeExceededV4(Fix(Structure(Mpls(MplsEntry(1, 0, true, 1))), s => BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(4), 2))) },
        { "object length past the end", TimeExceededV4(Fix(Structure(Mpls(MplsEntry(1, 0, true, 1))), s => BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(4), 64))) },
        { "truncated object header", TimeExceededV4(Structure(Mpls(MplsEntry(1, 0, true, 1)), [0, 8])) },
        { "empty MPLS object", TimeExceededV4(Structure(Object(1, 1, []))) },
        { "MPLS entry cut to 3 bytes", TimeExceededV4(Structure(Object(1, 1, [0, 0, 1]))) },
        { "interface: name announced, absent", TimeExceededV4(Structure(Object(2, 0x02, []))) },
        { "interface: ifIndex cut short", TimeExceededV4(Structure(Object(2, 0x08, [0, 0, 1]))) },
        { "interface: unknown AFI", TimeExceededV4(Structure(Object(2, 0x04, [0, 9, 0, 0, 1, 2, 3, 4]))) },
        { "interface: IPv6 address cut short", TimeExceededV4(Structure(Object(2, 0x04, [0, 2, 0, 0, 1, 2, 3, 4]))) },
        { "interface: name length not a multiple of 4", TimeExceededV4(Structure(Object(2, 0x02, [3, (byte)'a', (byte)'b', 0]))) },
        { "interface: name length past the object", TimeExceededV4(Structure(Object(2, 0x02, [8, (byte)'a', (byte)'b', 0]))) },
        { "interface: name over 64 bytes", TimeExceededV4(Structure(Object(2, 0x02, [68, .. new byte[67]]))) },
        { "interface: bytes after the last field", TimeExceededV4(Structure(Object(2, 0x01, [0, 0, 5, 220, 9, 9, 9, 9]))) },
        { "length attribute under 128 bytes", TimeExceededV4(TwoLabels, originalLength: 96) },
        { "length attribute past the message", TimeExceededV4(TwoLabels, lengthAttribute: 200) },
        { "length attribute pointing inside the structure", Error(false, 11, 0, Wire.QuotedProbeV4(Cookie), 128, 33, TwoLabels) },
        { "no structure after 128 bytes", TimeExceededV4([], lengthAttribute: 0) },
        { "structure cut to 3 bytes", TimeExceededV4([0x20, 0, 0], lengthAttribute: 0) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void AMalformedStructureIsIgnored(string shape, byte[] message)
    {
        Assert.True(IcmpExtensionParser.Parse(message, IcmpFamily.IPv4) is null, shape);
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void AMalformedStructureDoesNotCostTheAnswer(string shape, byte[] message)
    {
        // The hop is not lost: the error still matches its probe, only without extensions.
        var datagram = Wire.IPv4(message, source: "198.18.3.2");

        Assert.True(RawFraming.TryRead(IcmpFamily.IPv4, datagram, datagram.Length, Wire.Key("198.18.3.2"), -1, 0, 0, out var parsed, out _), shape);
        Assert.Equal(IcmpKind.TimeExceeded, parsed.Kind);
        Assert.Equal(Cookie, parsed.Cookie);
        Assert.Null(parsed.Extensions);
    }

    [Fact]
    public void TheRawFramingHandsTheExtensionsOn()
    {
        var datagram = Wire.IPv4(TimeExceededV4(TwoLabels), source: "198.18.3.2");

        Assert.True(RawFraming.TryRead(IcmpFamily.IPv4, datagram, datagram.Length, Wire.Key("198.18.3.2"), -1, 0, 0, out var parsed, out _));
        Assert.Equal(2, parsed.Extensions?.Mpls.Count);
        Assert.Equal(Cookie, parsed.Cookie);
    }

    [Fact]
    public void TheErrorQueuesPayloadIsReadFromTheKernelsOffsetOrAt128LessTheQuotedHeader()
    {
        // What recvmsg(MSG_ERRQUEUE) returns: the quote from its ICMP header on (the IP header pulled), then the extensions.
        var message = TimeExceededV4(TwoLabels);
        var payload = message.AsSpan(8 + 20).ToArray();

        Assert.Equal(2, IcmpExtensionParser.ParseQuoted(payload, kernelOffset: 108, quotedHeaderLength: 20)?.Mpls.Count);
        Assert.Equal(2, IcmpExtensionParser.ParseQuoted(payload, kernelOffset: 0, quotedHeaderLength: 20)?.Mpls.Count);
        Assert.Null(IcmpExtensionParser.ParseQuoted(payload, kernelOffset: 100, quotedHeaderLength: 20));
        Assert.Null(IcmpExtensionParser.ParseQuoted(payload, kernelOffset: 4000, quotedHeaderLength: 20));
    }

    /// <summary>
    /// The property the fuzzer holds the parser to, in CI: random bytes, random length attributes, and every single-byte
    /// change and every cut of valid messages never throw, and whatever is returned is well formed. Seeded: a failure
    /// names its seed and repeats.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void NoBytesMakeTheParserThrow(int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 400)];
            random.NextBytes(bytes);
            if (bytes.Length > 8)
            {
                bytes[0] = (byte)random.GetItems<int>([3, 11, 12, 1, 3], 1)[0];
                bytes[random.Next(2) == 0 ? 4 : 5] = (byte)random.Next(0, 64);
            }
            Check(bytes);
        }
        var valid = TimeExceededV4(Structure(Mpls(MplsEntry(24001, 0, true, 1)), Interface(0, 7, "198.18.3.1", "to-r2", 1400), Object(9, 9, [1, 2, 3, 4])));
        for (var cut = 0; cut <= valid.Length; cut++)
        {
            Check(valid[..cut]);
        }
        for (var i = 0; i < 20_000; i++)
        {
            var mutated = (byte[])valid.Clone();
            mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            Check(mutated);
        }
    }

    private static void Check(byte[] bytes)
    {
        foreach (var family in new[] { IcmpFamily.IPv4, IcmpFamily.IPv6 })
        {
            var extensions = IcmpExtensionParser.Parse(bytes, family);
            // A structure sits after at least 128 bytes of original datagram and has a 4-byte header.
            Assert.True(extensions is null || bytes.Length >= 8 + 128 + 4, "extensions found where none fit");
            _ = extensions?.ToString();
            _ = IcmpExtensionParser.ParseQuoted(bytes, bytes.Length > 2 ? bytes[1] : 0, 20);
        }
    }

    private static byte[] Fix(byte[] structure, Action<byte[]> change)
    {
        change(structure);
        // Keep the checksum right, so the shape itself, not the checksum, is what is malformed.
        BinaryPrimitives.WriteUInt16BigEndian(structure.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(structure.AsSpan(2), Reference.Checksum(structure));
        return structure;
    }
}
