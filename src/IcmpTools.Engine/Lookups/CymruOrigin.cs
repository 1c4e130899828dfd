using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Lookups;

/// <summary>
/// The wire side of Team Cymru's IP-to-ASN DNS service: which TXT name to ask for an address, and what its
/// answer says. 198.18.2.2 is asked as 2.2.18.198.origin.asn.cymru.com; 2001:db8::1 by its 32 nibbles, last
/// first, under origin6.asn.cymru.com. An answer is "64500 | 198.18.0.0/15 | ZZ | arin | 2001-01-01".
/// </summary>
public static class CymruOrigin
{
    public const string V4Zone = "origin.asn.cymru.com";
    public const string V6Zone = "origin6.asn.cymru.com";

    /// <summary>The TXT name that holds <paramref name="address"/>'s origin.</summary>
    public static string ReverseName(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var length))
        {
            throw new ArgumentException($"'{address}' has no byte form.", nameof(address));
        }
        var name = new StringBuilder(80);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            for (var i = length - 1; i >= 0; i--)
            {
                name.Append(bytes[i].ToString(CultureInfo.InvariantCulture)).Append('.');
            }
            return name.Append(V4Zone).ToString();
        }
        for (var i = length - 1; i >= 0; i--)
        {
            name.Append(Nibble(bytes[i] & 0xF)).Append('.').Append(Nibble(bytes[i] >> 4)).Append('.');
        }
        return name.Append(V6Zone).ToString();
    }

    private static char Nibble(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);

    /// <summary>
    /// Reads the TXT records of one answer (each record's strings already joined). Records that do not
    /// parse are skipped. Several records (an address covered by several announced prefixes) or several ASes
    /// in one record (a prefix with more than one origin, "64500 64501 | ..."): the most specific prefix wins,
    /// since that is the one routing follows, and within it the lowest AS number, so the answer does not
    /// depend on the order a resolver lists records in. mtr shows the first record as it arrives, which does.
    /// </summary>
    public static AsnInfo? Parse(IEnumerable<string> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        AsnInfo? best = null;
        var bestLength = -1;
        foreach (var record in records)
        {
            if (TryParseRecord(record, out var info, out var prefixLength)
                && (prefixLength > bestLength || (prefixLength == bestLength && info.Asn < best!.Asn)))
            {
                best = info;
                bestLength = prefixLength;
            }
        }
        return best;
    }

    /// <summary>One record: "ASN[ ASN...] | prefix | country | registry | allocated"; the last three may be empty.</summary>
    public static bool TryParseRecord(string record, out AsnInfo info, out int prefixLength)
    {
        info = null!;
        prefixLength = -1;
        if (string.IsNullOrWhiteSpace(record))
        {
            return false;
        }
        var fields = record.Split('|', StringSplitOptions.TrimEntries);
        if (fields.Length < 2)
        {
            return false;
        }
        long? lowest = null;
        foreach (var token in fields[0].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            // AS numbers are 32-bit (RFC 6793): 1 to 4294967295, the private-use block (RFC 6996, 4200000000 and up)
            // included, which a lab's or a company's own server may well answer with. 0 is reserved and never an origin.
            if (!uint.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var asn) || asn is 0)
            {
                return false;
            }
            lowest = lowest is { } l ? Math.Min(l, asn) : asn;
        }
        if (lowest is not { } origin || !IPNetwork.TryParse(fields[1], out var prefix))
        {
            return false;
        }
        prefixLength = prefix.PrefixLength;
        info = new AsnInfo(origin, prefix.ToString(), Field(fields, 2), Field(fields, 3), Field(fields, 4));
        return true;
    }

    private static string Field(string[] fields, int index) => index < fields.Length ? fields[index] : "";
}
