using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// One target of a sweep as the user wrote it: a name, an address, a CIDR block or an IPv4 range.
/// Blocks and ranges are enumerated lazily, so a /16 never exists as 65,536 objects at once.
/// </summary>
public sealed class SweepTarget
{
    /// <summary>Blocks larger than this need the caller's confirmation (a /0 is almost surely a typo).</summary>
    public const long ConfirmationThreshold = 1L << 24;

    private readonly IPAddress? _first;
    /// <summary>The offset of the last address from the first: a count would need 129 bits for ::/0.</summary>
    private readonly UInt128 _lastOffset;

    private SweepTarget(string text, string? name, IPAddress? first, UInt128 lastOffset)
    {
        Text = text;
        Name = name;
        _first = first;
        _lastOffset = lastOffset;
    }

    /// <summary>What the user wrote.</summary>
    public string Text { get; }

    /// <summary>A name still to resolve; null for addresses, blocks and ranges.</summary>
    public string? Name { get; }

    /// <summary>The family of its addresses; null for a name, whose family is known only once resolved.</summary>
    public IcmpFamily? Family => _first is null ? null : TargetResolver.FamilyOf(_first);

    /// <summary>How many addresses it stands for (1 for a name); ::/0's 2^128 reads as <see cref="UInt128.MaxValue"/>.</summary>
    public UInt128 Count => _lastOffset == UInt128.MaxValue ? UInt128.MaxValue : _lastOffset + 1;

    /// <summary>
    /// Parses a target. Throws <see cref="InvalidTargetException"/> naming it when it is malformed, a range is
    /// reversed, or a block is over <see cref="ConfirmationThreshold"/> addresses and <paramref name="allowHuge"/> is off.
    /// IPv4 blocks up to /30 skip their network and broadcast addresses, as fping -g does, unless asked not to.
    /// </summary>
    public static SweepTarget Parse(string text, bool includeNetworkAndBroadcast = false, bool allowHuge = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (trimmed.Length == 0)
        {
            throw new InvalidTargetException(text, InvalidTargetReason.Malformed, "An empty target is not an address, a block, a range or a name.");
        }
        SweepTarget target;
        if (trimmed.Contains('/', StringComparison.Ordinal))
        {
            target = ParseBlock(text, trimmed, includeNetworkAndBroadcast);
        }
        // An address before a range: a zone may name an interface with a hyphen (fe80::1%to-r1).
        else if (TargetResolver.TryParseLiteral(trimmed, out var single))
        {
            target = new SweepTarget(text, null, single, 0);
        }
        else if (trimmed.Contains('-', StringComparison.Ordinal) && trimmed.Split('-') is [var a, var b]
            && TargetResolver.TryParseLiteral(a.Trim(), out var start))
        {
            target = ParseRange(text, start, b.Trim());
        }
        else if (Uri.CheckHostName(trimmed) == UriHostNameType.Dns)
        {
            target = new SweepTarget(text, trimmed, null, 0);
        }
        else
        {
            throw new InvalidTargetException(text, InvalidTargetReason.Malformed, $"The target '{text}' is not an address, a CIDR block, an IPv4 range or a host name.");
        }
        if (!allowHuge && target.Count > ConfirmationThreshold)
        {
            throw new InvalidTargetException(text, InvalidTargetReason.TooLarge,
                $"The target '{text}' holds {target.Count} addresses, more than {ConfirmationThreshold}; confirm with -Force if that is really meant.");
        }
        return target;
    }

    private static SweepTarget ParseBlock(string text, string trimmed, bool includeNetworkAndBroadcast)
    {
        var slash = trimmed.IndexOf('/', StringComparison.Ordinal);
        if (!TargetResolver.TryParseLiteral(trimmed[..slash], out var baseAddress)
            || !int.TryParse(trimmed[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix)
            || prefix > (baseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128))
        {
            throw new InvalidTargetException(text, InvalidTargetReason.Malformed, $"The target '{text}' is not a valid CIDR block (address/prefix length).");
        }
        // IPNetwork insists the base has no host bits; users write 198.18.0.7/24 and mean the /24.
        var network = new IPNetwork(Mask(baseAddress, prefix), prefix);
        var bits = (baseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128) - prefix;
        // 2^bits - 1 without shifting by 128, which C# takes modulo 128 (::/0 would be one address).
        var lastOffset = bits == 128 ? UInt128.MaxValue : (UInt128.One << bits) - 1;
        var first = network.BaseAddress;
        if (baseAddress.AddressFamily == AddressFamily.InterNetwork && bits >= 2 && !includeNetworkAndBroadcast)
        {
            first = Add(first, 1);
            lastOffset -= 2;
        }
        return new SweepTarget(text, null, first, lastOffset);
    }

    private static SweepTarget ParseRange(string text, IPAddress start, string endText)
    {
        if (start.AddressFamily != AddressFamily.InterNetwork || !TargetResolver.TryParseLiteral(endText, out var end)
            || end.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new InvalidTargetException(text, InvalidTargetReason.Malformed, $"The target '{text}' is not a valid IPv4 range (first-last).");
        }
        var a = ToUInt32(start);
        var b = ToUInt32(end);
        if (b < a)
        {
            throw new InvalidTargetException(text, InvalidTargetReason.ReversedRange, $"The range '{text}' ends before it starts.");
        }
        return new SweepTarget(text, null, start, b - a);
    }

    /// <summary>The addresses, in order, made one at a time. Empty for a name (resolve <see cref="Name"/> instead).</summary>
    public IEnumerable<IPAddress> Addresses()
    {
        if (_first is null)
        {
            yield break;
        }
        for (UInt128 i = 0; ; i++)
        {
            yield return Add(_first, i);
            if (i == _lastOffset)
            {
                yield break;
            }
        }
    }

    private static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        for (var bit = prefix; bit < length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }
        return new IPAddress(bytes[..length]);
    }

    private static IPAddress Add(IPAddress address, UInt128 offset)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        if (length == 4)
        {
            var value = BinaryPrimitives.ReadUInt32BigEndian(bytes) + (uint)offset;
            BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
            return new IPAddress(bytes[..4]);
        }
        var wide = BinaryPrimitives.ReadUInt128BigEndian(bytes) + offset;
        BinaryPrimitives.WriteUInt128BigEndian(bytes, wide);
        return new IPAddress(bytes[..16]);
    }
}
