using System.Buffers.Binary;
using System.Net;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Tests.Packets;

/// <summary>
/// Builds packets byte by byte, independently of the writer under test, so the parser is checked against
/// what the RFCs say rather than against our own writer.
/// </summary>
internal static class Wire
{
    public const string Us = "198.18.1.2";
    public const string Target = "198.19.7.7";
    public const string Us6 = "2001:db8:1::2";
    public const string Target6 = "2001:db8:12::7";

    /// <summary>An echo message: header, cookie, then payload byte i = i (iputils' fill).</summary>
    public static byte[] Echo(byte type, ushort identifier, ushort sequence, ProbeCookie cookie, int payloadSize = 56)
    {
        var message = new byte[8 + payloadSize];
        message[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(4), identifier);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6), sequence);
        for (var i = 0; i < payloadSize; i++)
        {
            message[8 + i] = (byte)i;
        }
        var cookieBytes = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(cookieBytes, cookie.Session);
        BinaryPrimitives.WriteUInt32BigEndian(cookieBytes.AsSpan(4), cookie.Serial);
        cookieBytes.AsSpan(0, Math.Min(8, payloadSize)).CopyTo(message.AsSpan(8));
        return WithIcmpChecksum(message);
    }

    /// <summary>An ICMP error: type, code, the 4 type-specific bytes (MTU, pointer), then the quote.</summary>
    public static byte[] Error(byte type, byte code, byte[] quoted, uint rest = 0)
    {
        var message = new byte[8 + quoted.Length];
        message[0] = type;
        message[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), rest);
        quoted.CopyTo(message, 8);
        return WithIcmpChecksum(message);
    }

    public static byte[] WithIcmpChecksum(byte[] message)
    {
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), Reference.Checksum(message));
        return message;
    }

    /// <summary>An IPv4 datagram; options are NOPs, so any IHL from 5 to 15 can be built.</summary>
    public static byte[] IPv4(byte[] body, byte protocol = 1, int optionWords = 0, string source = Target,
        string destination = Us, byte ttl = 61)
    {
        var headerLength = 20 + (optionWords * 4);
        var datagram = new byte[headerLength + body.Length];
        datagram[0] = (byte)(0x40 | (headerLength / 4));
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), (ushort)datagram.Length);
        datagram[8] = ttl;
        datagram[9] = protocol;
        datagram.AsSpan(20, headerLength - 20).Fill(1);
        IPAddress.Parse(source).TryWriteBytes(datagram.AsSpan(12), out _);
        IPAddress.Parse(destination).TryWriteBytes(datagram.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(10), Reference.Checksum(datagram.AsSpan(0, headerLength)));
        body.CopyTo(datagram, headerLength);
        return datagram;
    }

    /// <summary>Our echo request as it left, quoted whole or cut to the first <paramref name="keep"/> bytes.</summary>
    public static byte[] QuotedProbeV4(ProbeCookie cookie, ushort identifier = 300, ushort sequence = 4,
        int payloadSize = 56, int optionWords = 0, int keep = int.MaxValue)
    {
        var original = IPv4(Echo(8, identifier, sequence, cookie, payloadSize), optionWords: optionWords, source: Us, destination: Target);
        return original[..Math.Min(keep, original.Length)];
    }

    /// <summary>An IPv6 packet (the header only says where; the ICMPv6 checksum is the kernel's business).</summary>
    public static byte[] IPv6(byte[] body, byte nextHeader = 58, string source = Us6, string destination = Target6)
    {
        var packet = new byte[40 + body.Length];
        packet[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)body.Length);
        packet[6] = nextHeader;
        packet[7] = 1;
        IPAddress.Parse(source).TryWriteBytes(packet.AsSpan(8), out _);
        IPAddress.Parse(destination).TryWriteBytes(packet.AsSpan(24), out _);
        body.CopyTo(packet, 40);
        return packet;
    }

    public static byte[] QuotedProbeV6(ProbeCookie cookie, ushort identifier = 300, ushort sequence = 4,
        int payloadSize = 56, int keep = int.MaxValue)
    {
        var original = IPv6(Echo(128, identifier, sequence, cookie, payloadSize));
        return original[..Math.Min(keep, original.Length)];
    }

    /// <summary>An IPv6 Fragment header (next header, reserved, offset in 8-byte units with M flag, id).</summary>
    public static byte[] Fragment(byte nextHeader, int offsetUnits, bool more, byte[] body)
    {
        var packet = new byte[8 + body.Length];
        packet[0] = nextHeader;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)((offsetUnits << 3) | (more ? 1 : 0)));
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), 0x1234_5678);
        body.CopyTo(packet, 8);
        return packet;
    }

    public static IpKey Key(string address) => IpKey.FromAddress(IPAddress.Parse(address));
}

/// <summary>The Internet checksum written the slow, obvious way, to hold the fast one to.</summary>
internal static class Reference
{
    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        long sum = 0;
        for (var i = 0; i < data.Length; i += 2)
        {
            sum += (data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0);
        }
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }
}
