using System.Collections.ObjectModel;
using System.Globalization;

namespace IcmpTools.Engine.Models;

/// <summary>
/// What an ICMP error carried beyond the quoted probe (RFC 4884 multipart messages): the MPLS label stack
/// the probe had when it expired (RFC 4950) and the interfaces the router named (RFC 5837), and every other
/// object as it came. Flat lists of flat records, so CSV writes one text column each and JSON keeps the fields.
/// </summary>
public sealed class IcmpExtensions
{
    internal static readonly IcmpExtensions Empty = new([], [], []);

    internal IcmpExtensions(MplsLabel[] mpls, InterfaceInfo[] interfaces, IcmpExtensionObject[] other)
    {
        Mpls = new MplsLabelList(mpls);
        InterfaceInfo = new InterfaceInfoList(interfaces);
        Other = new IcmpExtensionObjectList(other);
    }

    /// <summary>RFC 4950 label stack entries, top of the stack first.</summary>
    public MplsLabelList Mpls { get; }
    /// <summary>RFC 5837 interface information objects, in the order the router sent them.</summary>
    public InterfaceInfoList InterfaceInfo { get; }
    /// <summary>Objects of any other class or C-Type, kept as class, type and bytes.</summary>
    public IcmpExtensionObjectList Other { get; }

    public bool IsEmpty => Mpls.Count == 0 && InterfaceInfo.Count == 0 && Other.Count == 0;

    public override string ToString() => string.Join(' ', new[] { Mpls.ToString(), InterfaceInfo.ToString(), Other.ToString() }.Where(s => s.Length > 0));
}

/// <summary>One MPLS label stack entry (RFC 4950, the RFC 3032 layout): label, traffic class, bottom of stack, TTL.</summary>
public sealed record MplsLabel(int Label, int TrafficClass, bool BottomOfStack, int Ttl)
{
    /// <summary>mtr's and Trippy's form, "L=24001,TC=0,S=1,TTL=1".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"L={Label},TC={TrafficClass},S={(BottomOfStack ? 1 : 0)},TTL={Ttl}");
}

/// <summary>RFC 5837's interface role: which interface of the router the object describes.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))]
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter))]
public enum InterfaceRole
{
    /// <summary>The interface the probe arrived on.</summary>
    Incoming = 0,
    /// <summary>A sub-IP component of the incoming interface (a VLAN, a bundle member).</summary>
    SubIPComponent = 1,
    /// <summary>The interface the probe would have left by.</summary>
    Outgoing = 2,
    /// <summary>The next hop the probe would have gone to.</summary>
    NextHop = 3,
}

/// <summary>One RFC 5837 interface information object; each field is null when the router left it out.</summary>
public sealed record InterfaceInfo(InterfaceRole Role, long? IfIndex, string? Address, string? Name, long? Mtu)
{
    /// <summary>"Incoming:ifIndex=7,addr=198.18.3.1,name=eth1,mtu=1400", the fields present only.</summary>
    public override string ToString()
    {
        var parts = new List<string>(4);
        if (IfIndex is { } index)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"ifIndex={index}"));
        }
        if (Address is not null)
        {
            parts.Add("addr=" + Address);
        }
        if (Name is not null)
        {
            parts.Add("name=" + Name);
        }
        if (Mtu is { } mtu)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"mtu={mtu}"));
        }
        return $"{Role}:{string.Join(',', parts)}";
    }
}

/// <summary>An extension object the engine does not decode: its class number, C-Type and payload (after the 4-byte object header).</summary>
public sealed record IcmpExtensionObject(int ClassNum, int CType, byte[] Data)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{ClassNum}/{CType}:{Convert.ToHexString(Data)}");
}

/// <summary>A label stack, read-only; Export-Csv writes the entries space-separated, top first.</summary>
public sealed class MplsLabelList : ReadOnlyCollection<MplsLabel>
{
    internal MplsLabelList(MplsLabel[] labels)
        : base(labels)
    {
    }

    public override string ToString() => string.Join(' ', this);
}

/// <summary>Interface information objects, read-only; Export-Csv writes them space-separated.</summary>
public sealed class InterfaceInfoList : ReadOnlyCollection<InterfaceInfo>
{
    internal InterfaceInfoList(InterfaceInfo[] items)
        : base(items)
    {
    }

    public override string ToString() => string.Join(' ', this);
}

/// <summary>Undecoded extension objects, read-only; Export-Csv writes them space-separated as class/type:hex.</summary>
public sealed class IcmpExtensionObjectList : ReadOnlyCollection<IcmpExtensionObject>
{
    internal IcmpExtensionObjectList(IcmpExtensionObject[] items)
        : base(items)
    {
    }

    public override string ToString() => string.Join(' ', this);
}
