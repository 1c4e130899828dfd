using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace IcmpTools.Engine.Tests.Packets;

/// <summary>
/// RFC 4884 extension structures built byte by byte from the RFCs (4884, 4950, 5837), independently of the parser,
/// and ICMP errors that carry them the compliant way (length attribute) or the old way (128 bytes, no length).
/// </summary>
internal static class ExtensionWire
{
    public static byte[] Object(byte classNum, byte cType, byte[] data)
    {
        var obj = new byte[4 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(obj, (ushort)obj.Length);
        obj[2] = classNum;
        obj[3] = cType;
        data.CopyTo(obj, 4);
        return obj;
    }

    /// <summary>A structure: version 2 header with a right checksum (unless <paramref name="breakChecksum"/>), then the objects.</summary>
    public static byte[] Structure(bool breakChecksum = false, int version = 2, params byte[][] objects)
    {
        var body = objects.SelectMany(o => o).ToArray();
        var structure = new byte[4 + body.Length];
        structure[0] = (byte)(version << 4);
        body.CopyTo(structure, 4);
        var sum = Reference.Checksum(structure);
        BinaryPrimitives.WriteUInt16BigEndian(structure.AsSpan(2), breakChecksum ? (ushort)(sum ^ 0x5555) : sum);
        return structure;
    }

    public static byte[] Structure(params byte[][] objects) => Structure(false, 2, objects);

    public static byte[] MplsEntry(int label, int trafficClass, bool bottom, int ttl)
    {
        var entry = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(entry, (uint)((label << 12) | (trafficClass << 9) | ((bottom ? 1 : 0) << 8) | ttl));
        return entry;
    }

    public static byte[] Mpls(params byte[][] entries) => Object(1, 1, entries.SelectMany(e => e).ToArray());

    /// <summary>An RFC 5837 object; each part present only when given, in the RFC's order.</summary>
    public static byte[] Interface(int role, uint? ifIndex = null, string? address = null, string? name = null, uint? mtu = null)
    {
        var cType = (byte)(role << 6);
        var data = new List<byte>();
        if (ifIndex is { } index)
        {
            cType |= 0x08;
            data.AddRange(BigEndian(index));
        }
        if (address is not null)
        {
            cType |= 0x04;
            var ip = IPAddress.Parse(address);
            var afi = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 1 : 2;
            data.Add(0);
            data.Add((byte)afi);
            data.Add(0);
            data.Add(0);
            data.AddRange(ip.GetAddressBytes());
        }
        if (name is not null)
        {
            cType |= 0x02;
            var text = Encoding.UTF8.GetBytes(name);
            var length = (1 + text.Length + 3) / 4 * 4;
            data.Add((byte)length);
            data.AddRange(text);
            data.AddRange(new byte[length - 1 - text.Length]);
        }
        if (mtu is { } m)
        {
            cType |= 0x01;
            data.AddRange(BigEndian(m));
        }
        return Object(2, cType, [.. data]);
    }

    private static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>
    /// An ICMP error whose original datagram is <paramref name="quoted"/> zero-padded to <paramref name="originalLength"/>
    /// bytes, followed by <paramref name="structure"/>; the length attribute says <paramref name="lengthAttribute"/>
    /// (in the family's units: 4 bytes IPv4, 8 IPv6), 0 for a non-compliant sender.
    /// </summary>
    public static byte[] Error(bool ipv6, byte type, byte code, byte[] quoted, int originalLength, int lengthAttribute, byte[] structure)
    {
        var original = new byte[Math.Max(originalLength, quoted.Length)];
        quoted.CopyTo(original, 0);
        var message = new byte[8 + original.Length + structure.Length];
        message[0] = type;
        message[1] = code;
        message[ipv6 ? 4 : 5] = (byte)lengthAttribute;
        original.CopyTo(message, 8);
        structure.CopyTo(message, 8 + original.Length);
        return Wire.WithIcmpChecksum(message);
    }
}
