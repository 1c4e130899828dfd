#pragma warning disable CA1720 // contract stub, replaced by the packets implementation
// Contract stub: the packets helper replaces this file with the real implementation, split per type.
using System.Net;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Packets;

public static class InternetChecksum
{
    public static ushort Compute(ReadOnlySpan<byte> data) => throw new NotImplementedException();
}

internal static class IcmpTypes
{
    public const byte V4EchoReply = 0;
    public const byte V4DestinationUnreachable = 3;
    public const byte V4EchoRequest = 8;
    public const byte V4TimeExceeded = 11;
    public const byte V4ParameterProblem = 12;
    public const byte V6DestinationUnreachable = 1;
    public const byte V6PacketTooBig = 2;
    public const byte V6TimeExceeded = 3;
    public const byte V6ParameterProblem = 4;
    public const byte V6EchoRequest = 128;
    public const byte V6EchoReply = 129;
}

public readonly record struct ProbeCookie(uint Session, uint Serial)
{
    public const int Size = 8;
    public void WriteTo(Span<byte> destination) => throw new NotImplementedException();
    public static bool TryRead(ReadOnlySpan<byte> source, out ProbeCookie cookie) => throw new NotImplementedException();
}

public readonly struct IpKey : IEquatable<IpKey>
{
    public IpKey(ulong hi, ulong lo) { Hi = hi; Lo = lo; }
    public ulong Hi { get; }
    public ulong Lo { get; }
    public static IpKey FromV4(ReadOnlySpan<byte> address) => throw new NotImplementedException();
    public static IpKey FromV6(ReadOnlySpan<byte> address) => throw new NotImplementedException();
    public static IpKey FromAddress(IPAddress address) => throw new NotImplementedException();
    public IPAddress ToAddress(IcmpFamily family) => throw new NotImplementedException();
    public bool Equals(IpKey other) => Hi == other.Hi && Lo == other.Lo;
    public override bool Equals(object? obj) => obj is IpKey k && Equals(k);
    public override int GetHashCode() => HashCode.Combine(Hi, Lo);
    public static bool operator ==(IpKey left, IpKey right) => left.Equals(right);
    public static bool operator !=(IpKey left, IpKey right) => !left.Equals(right);
}

public static class EchoRequestWriter
{
    public const int HeaderSize = 8;
    public static int Write(Span<byte> destination, IcmpFamily family, ushort identifier, ushort sequence,
        ProbeCookie cookie, int payloadSize, ReadOnlySpan<byte> explicitPayload, bool useExplicitPayload)
        => throw new NotImplementedException();
}

public enum IcmpKind : byte
{
    Unknown = 0,
    EchoRequest,
    EchoReply,
    DestinationUnreachable,
    TimeExceeded,
    PacketTooBig,
    ParameterProblem,
}

public struct IcmpParseResult
{
    public IcmpKind Kind;
    public byte Type;
    public byte Code;
    public int Ttl;
    public int IcmpLength;
    public ushort Identifier;
    public ushort Sequence;
    public bool HasCookie;
    public ProbeCookie Cookie;
    public IpKey QuotedDestination;
    public int PayloadOffset;
    public int PayloadLength;
    public int Mtu;
    public int Pointer;
}

public static class IcmpParser
{
    public static bool TryParseV4(ReadOnlySpan<byte> datagram, out IcmpParseResult result) => throw new NotImplementedException();
    public static bool TryParseV4Icmp(ReadOnlySpan<byte> message, out IcmpParseResult result) => throw new NotImplementedException();
    public static bool TryParseV6(ReadOnlySpan<byte> message, out IcmpParseResult result) => throw new NotImplementedException();
}
