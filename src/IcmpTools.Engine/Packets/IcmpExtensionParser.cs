using System.Buffers.Binary;
using System.Net;
using System.Text;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Packets;

/// <summary>
/// Reads the ICMP extension structure of RFC 4884 multipart messages (Destination Unreachable, Time Exceeded and
/// IPv4 Parameter Problem): MPLS label stacks (RFC 4950), interface information (RFC 5837) and any other object
/// as class, C-Type and bytes. Hostile input is expected: nothing throws, and a structure that is malformed in
/// any way (wrong version, bad checksum, an object whose length is short or runs past the end, a sub-object that
/// does not fit) is ignored as a whole; the message it came with is still an answer. Allocates only when a valid
/// structure is there, which errors without extensions, the common case, never have.
/// </summary>
/// <remarks>
/// Where the structure starts: a compliant sender (RFC 4884 section 4) sets the original datagram's length in
/// the ICMP header (32-bit words in IPv4's sixth byte, 64-bit words in ICMPv6's fifth) and pads the datagram to
/// at least 128 bytes; a shorter length is no extension (Linux's own reading does the same). A non-compliant
/// sender (section 5: early MPLS routers, RFC 4950's first drafts) leaves the length 0 and puts the structure
/// right after a 128-byte original datagram; that is believed only when its version and checksum are right.
/// </remarks>
public static class IcmpExtensionParser
{
    /// <summary>The original datagram's length before the extensions (RFC 4884's minimum, and the non-compliant offset).</summary>
    public const int OriginalDatagramLength = 128;

    private const int IcmpHeaderLength = 8;
    private const int StructureHeaderLength = 4;
    private const int ObjectHeaderLength = 4;
    private const int Version = 2;
    private const byte ClassMpls = 1;
    private const byte CTypeMplsIncoming = 1;
    private const byte ClassInterfaceInfo = 2;
    /// <summary>RFC 5837 section 4.3: the name sub-object's length octet counts itself, is a multiple of 4, at most 64.</summary>
    private const int MaxNameSubObject = 64;

    /// <summary>
    /// The single entry point for a whole ICMP message (header first, no IP header): the extensions it carries,
    /// or null when it carries none or they are malformed. Never throws, whatever the bytes (fuzzed).
    /// </summary>
    public static IcmpExtensions? Parse(ReadOnlySpan<byte> message, IcmpFamily family)
    {
        if (message.Length < IcmpHeaderLength || !MayCarryExtensions(family, message[0]))
        {
            return null;
        }
        var original = message[IcmpHeaderLength..];
        var length = family == IcmpFamily.IPv4 ? message[5] * 4 : message[4] * 8;
        if (length != 0)
        {
            return length >= OriginalDatagramLength && length <= original.Length - StructureHeaderLength
                ? ParseStructure(original[length..])
                : null;
        }
        return original.Length >= OriginalDatagramLength + StructureHeaderLength ? ParseStructure(original[OriginalDatagramLength..]) : null;
    }

    /// <summary>
    /// What a datagram socket's error queue returns: the quoted datagram without its IP header (the kernel pulled it,
    /// <paramref name="quotedHeaderLength"/> bytes: 20 for our IPv4 probes, 40 for IPv6), then the rest of the error,
    /// extensions included. <paramref name="kernelOffset"/> is where the kernel found a compliant structure
    /// (IP_RECVERR_RFC4884), 0 when it found none; then only the non-compliant 128-byte offset is tried.
    /// </summary>
    public static IcmpExtensions? ParseQuoted(ReadOnlySpan<byte> quotedPayload, int kernelOffset, int quotedHeaderLength)
    {
        var at = kernelOffset > 0 ? kernelOffset : OriginalDatagramLength - quotedHeaderLength;
        return at > 0 && at <= quotedPayload.Length - StructureHeaderLength ? ParseStructure(quotedPayload[at..]) : null;
    }

    /// <summary>The types RFC 4884 gives a length attribute: Destination Unreachable, Time Exceeded, IPv4 Parameter Problem.</summary>
    public static bool MayCarryExtensions(IcmpFamily family, byte type) => family == IcmpFamily.IPv4
        ? type is IcmpTypes.V4DestinationUnreachable or IcmpTypes.V4TimeExceeded or IcmpTypes.V4ParameterProblem
        : type is IcmpTypes.V6DestinationUnreachable or IcmpTypes.V6TimeExceeded;

    /// <summary>The extension structure (its header first) to the end of the message; null unless wholly valid.</summary>
    public static IcmpExtensions? ParseStructure(ReadOnlySpan<byte> structure)
    {
        // The checksum covers the header and every object, to the end of the message.
        if (structure.Length < StructureHeaderLength || (structure[0] >> 4) != Version || InternetChecksum.Compute(structure) != 0)
        {
            return null;
        }
        List<MplsLabel>? mpls = null;
        List<InterfaceInfo>? interfaces = null;
        List<IcmpExtensionObject>? other = null;
        var objects = structure[StructureHeaderLength..];
        while (objects.Length > 0)
        {
            if (objects.Length < ObjectHeaderLength)
            {
                return null;
            }
            var length = BinaryPrimitives.ReadUInt16BigEndian(objects);
            if (length < ObjectHeaderLength || length > objects.Length)
            {
                return null;
            }
            var classNum = objects[2];
            var cType = objects[3];
            var data = objects[ObjectHeaderLength..length];
            switch (classNum)
            {
                case ClassMpls when cType == CTypeMplsIncoming:
                    if (!ReadMpls(data, mpls ??= new List<MplsLabel>(2)))
                    {
                        return null;
                    }
                    break;
                case ClassInterfaceInfo:
                    if (!TryReadInterfaceInfo(cType, data, out var info))
                    {
                        return null;
                    }
                    (interfaces ??= new List<InterfaceInfo>(2)).Add(info);
                    break;
                default:
                    (other ??= new List<IcmpExtensionObject>(1)).Add(new IcmpExtensionObject(classNum, cType, data.ToArray()));
                    break;
            }
            objects = objects[length..];
        }
        return new IcmpExtensions(mpls?.ToArray() ?? [], interfaces?.ToArray() ?? [], other?.ToArray() ?? []);
    }

    /// <summary>RFC 4950: one or more 4-byte entries, label (20 bits), traffic class (3), bottom of stack (1), TTL (8).</summary>
    private static bool ReadMpls(ReadOnlySpan<byte> data, List<MplsLabel> labels)
    {
        if (data.Length == 0 || data.Length % 4 != 0)
        {
            return false;
        }
        for (var i = 0; i < data.Length; i += 4)
        {
            var entry = BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
            labels.Add(new MplsLabel((int)(entry >> 12), (int)((entry >> 9) & 0x7), ((entry >> 8) & 0x1) != 0, (int)(entry & 0xFF)));
        }
        return true;
    }

    /// <summary>
    /// RFC 5837: the C-Type says the role (top two bits) and which fields follow, in this order: ifIndex (4 bytes),
    /// IP address (AFI, reserved, 4 or 16 bytes), name (length octet, UTF-8, zero padding), MTU (4 bytes).
    /// Every announced field must be there and nothing may follow the last.
    /// </summary>
    private static bool TryReadInterfaceInfo(byte cType, ReadOnlySpan<byte> data, out InterfaceInfo info)
    {
        info = null!;
        long? ifIndex = null;
        string? address = null;
        string? name = null;
        long? mtu = null;
        if ((cType & 0x08) != 0)
        {
            if (data.Length < 4)
            {
                return false;
            }
            ifIndex = BinaryPrimitives.ReadUInt32BigEndian(data);
            data = data[4..];
        }
        if ((cType & 0x04) != 0)
        {
            if (data.Length < 4)
            {
                return false;
            }
            var afi = BinaryPrimitives.ReadUInt16BigEndian(data);
            var size = afi switch { 1 => 4, 2 => 16, _ => -1 };
            if (size < 0 || data.Length < 4 + size)
            {
                return false;
            }
            address = new IPAddress(data.Slice(4, size)).ToString();
            data = data[(4 + size)..];
        }
        if ((cType & 0x02) != 0)
        {
            if (data.Length < 1)
            {
                return false;
            }
            var length = data[0];
            if (length < 4 || length > MaxNameSubObject || length % 4 != 0 || length > data.Length)
            {
                return false;
            }
            name = CleanName(data[1..length]);
            data = data[length..];
        }
        if ((cType & 0x01) != 0)
        {
            if (data.Length < 4)
            {
                return false;
            }
            mtu = BinaryPrimitives.ReadUInt32BigEndian(data);
            data = data[4..];
        }
        if (data.Length != 0)
        {
            return false;
        }
        info = new InterfaceInfo((InterfaceRole)(cType >> 6), ifIndex, address, name, mtu);
        return true;
    }

    /// <summary>The name without its zero padding; control characters (a terminal escape from a hostile router) become '?'.</summary>
    private static string CleanName(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOf((byte)0);
        var text = Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
        return string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
            }
        });
    }
}
