using System.Buffers.Binary;
using System.Text;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Packets;

public sealed class EchoRequestWriterTests
{
    private const byte Untouched = 0xEE;
    private static readonly ProbeCookie Cookie = new(0xDEADBEEF, 0x01020304);

    private static byte[] Buffer(int length)
    {
        var buffer = new byte[length];
        buffer.AsSpan().Fill(Untouched);
        return buffer;
    }

    [Fact]
    public void WritesTheHeaderBigEndianAndAValidIPv4Checksum()
    {
        var buffer = Buffer(100);

        var length = EchoRequestWriter.Write(buffer, IcmpFamily.IPv4, 0x1234, 0xABCD, Cookie, 56, default, false);

        Assert.Equal(64, length);
        Assert.Equal(new byte[] { 8, 0 }, buffer[..2]);
        Assert.Equal(new byte[] { 0x12, 0x34, 0xAB, 0xCD }, buffer[4..8]);
        Assert.Equal(0, InternetChecksum.Compute(buffer.AsSpan(0, length)));
        Assert.Equal(Wire.Echo(8, 0x1234, 0xABCD, Cookie), buffer[..length]);
        Assert.All(buffer[length..], b => Assert.Equal(Untouched, b));
    }

    [Fact]
    public void PutsTheCookieFirstThenTheIputilsFill()
    {
        var buffer = Buffer(8 + 300);

        EchoRequestWriter.Write(buffer, IcmpFamily.IPv4, 1, 1, Cookie, 300, default, false);

        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04 }, buffer[8..16]);
        for (var i = 8; i < 300; i++)
        {
            Assert.Equal((byte)i, buffer[8 + i]);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void AShortPayloadCarriesAsMuchOfTheCookieAsFits(int payloadSize)
    {
        var buffer = Buffer(16);

        var length = EchoRequestWriter.Write(buffer, IcmpFamily.IPv4, 1, 1, Cookie, payloadSize, default, false);

        Assert.Equal(8 + payloadSize, length);
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04 }[..payloadSize], buffer[8..length]);
        Assert.All(buffer[length..], b => Assert.Equal(Untouched, b));
        Assert.Equal(0, InternetChecksum.Compute(buffer.AsSpan(0, length)));
    }

    [Fact]
    public void AnExplicitPayloadIsSentExactlyAndThePayloadSizeIgnored()
    {
        var buffer = Buffer(64);
        var payload = Encoding.ASCII.GetBytes("abcdefghijklmnopqrstuvwabcdefghi");

        var length = EchoRequestWriter.Write(buffer, IcmpFamily.IPv4, 1, 1, Cookie, 56, payload, true);

        Assert.Equal(40, length);
        Assert.Equal(payload, buffer[8..40]);
        // The same request Windows ping sends, whose checksum Wireshark shows as 0x4d5a.
        Assert.Equal(0x4d5a, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2)));
    }

    [Fact]
    public void AnEmptyExplicitPayloadIsAHeaderAlone()
    {
        var buffer = Buffer(16);
        Assert.Equal(8, EchoRequestWriter.Write(buffer, IcmpFamily.IPv4, 1, 1, Cookie, 56, default, true));
        Assert.Equal(Untouched, buffer[8]);
    }

    [Fact]
    public void IPv6LeavesTheChecksumZeroForTheKernel()
    {
        var buffer = Buffer(64);

        var length = EchoRequestWriter.Write(buffer, IcmpFamily.IPv6, 0x1234, 0xABCD, Cookie, 56, default, false);

        Assert.Equal(64, length);
        Assert.Equal(new byte[] { 128, 0, 0, 0, 0x12, 0x34, 0xAB, 0xCD }, buffer[..8]);
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04 }, buffer[8..16]);
        Assert.Equal((byte)55, buffer[63]);
    }

    [Theory]
    [InlineData(63, 56, false)]
    [InlineData(7, 0, false)]
    [InlineData(0, 0, false)]
    [InlineData(10, 0, true)]
    [InlineData(64, int.MaxValue, false)]
    public void ABufferTooSmallIsRefused(int bufferLength, int payloadSize, bool useExplicitPayload)
    {
        var buffer = Buffer(bufferLength);
        byte[] payload = [1, 2, 3];

        Assert.Throws<ArgumentException>(() =>
            EchoRequestWriter.Write(buffer, IcmpFamily.IPv4, 1, 1, Cookie, payloadSize, payload, useExplicitPayload));
        Assert.All(buffer, b => Assert.Equal(Untouched, b));
    }

    [Fact]
    public void ANegativePayloadSizeOrUnknownFamilyIsRefused()
    {
        var buffer = new byte[64];
        Assert.Throws<ArgumentOutOfRangeException>(() => EchoRequestWriter.Write(buffer, IcmpFamily.IPv4, 1, 1, Cookie, -1, default, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => EchoRequestWriter.Write(buffer, (IcmpFamily)5, 1, 1, Cookie, 8, default, false));
    }
}
