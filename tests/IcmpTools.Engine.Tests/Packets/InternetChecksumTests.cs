using System.Buffers.Binary;
using System.Text;
using IcmpTools.Engine.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Packets;

public sealed class InternetChecksumTests
{
    [Fact]
    public void MatchesTheRfc1071Example()
    {
        // RFC 1071 section 3: these bytes sum to 0xddf2, so the checksum is its complement, 0x220d.
        var checksum = InternetChecksum.Compute([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);

        Assert.Equal(0x220d, checksum);
        Assert.Equal(0xddf2, (ushort)~checksum);
    }

    [Theory]
    // The RFC example less its last byte: 0xf6 is padded to 0xf600, so the sum drops by 0xf7 to 0xdcfb.
    [InlineData(new byte[] { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6 }, 0x2304)]
    [InlineData(new byte[] { }, 0xFFFF)]
    [InlineData(new byte[] { 0x00 }, 0xFFFF)]
    [InlineData(new byte[] { 0x01 }, 0xFEFF)]
    [InlineData(new byte[] { 0x12, 0x34, 0x56 }, 0x97CB)]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, 0x00FF)]
    public void PadsAnOddLastByteWithZeroOnTheRight(byte[] data, int expected)
    {
        Assert.Equal(expected, InternetChecksum.Compute(data));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(64)]
    [InlineData(1501)]
    public void AllZeroBytesSumToZeroSoTheChecksumIsAllOnes(int length)
    {
        Assert.Equal(0xFFFF, InternetChecksum.Compute(new byte[length]));
    }

    [Theory]
    [InlineData(2, 0x0000)]
    [InlineData(16, 0x0000)]
    [InlineData(7, 0x00FF)]
    [InlineData(65_535, 0x00FF)]
    public void AllOnesBytesCarryAroundWithoutLoss(int length, int expected)
    {
        // Every word is 0xFFFF, one's-complement minus zero: the sum stays 0xFFFF however many carries
        // wrap around, and an odd tail adds 0xFF00.
        var data = new byte[length];
        data.AsSpan().Fill(0xFF);
        Assert.Equal(expected, InternetChecksum.Compute(data));
    }

    [Fact]
    public void MatchesACapturedWindowsEchoRequest()
    {
        // Windows ping's first request (identifier 1, sequence 1, its 32-byte alphabet payload) as Wireshark
        // shows it: 08 00 4d 5a 00 01 00 01 61 62 63 ... 69.
        var request = new byte[40];
        request[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), 1);
        Encoding.ASCII.GetBytes("abcdefghijklmnopqrstuvwabcdefghi", request.AsSpan(8));

        Assert.Equal(0x4d5a, InternetChecksum.Compute(request));
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), 0x4d5a);
        Assert.Equal(0, InternetChecksum.Compute(request));
    }

    [Fact]
    public void AgreesWithTheReferenceAndVerifiesToZeroAtEveryLengthAndAlignment()
    {
        var random = new Random(1071);
        var buffer = new byte[1500 + 8];
        for (var length = 0; length <= 1500; length++)
        {
            random.NextBytes(buffer);
            // Start off 8-byte alignment too: the fast path reads 64-bit words wherever the span starts.
            var data = buffer.AsSpan(length % 8, length);
            Assert.Equal(Reference.Checksum(data), InternetChecksum.Compute(data));
            if (length >= 4)
            {
                BinaryPrimitives.WriteUInt16BigEndian(data[2..], 0);
                BinaryPrimitives.WriteUInt16BigEndian(data[2..], InternetChecksum.Compute(data));
                Assert.Equal(0, InternetChecksum.Compute(data));
            }
        }
    }
}
