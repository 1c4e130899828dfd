namespace IcmpTools.Engine.Models;

/// <summary>
/// The origin of an address as Team Cymru's IP-to-ASN service answers it (origin.asn.cymru.com TXT, the scheme
/// mtr -z and Trippy use): the AS that announces the covering prefix, the prefix, its country and registry.
/// </summary>
public sealed record AsnInfo(long Asn, string Prefix, string Country, string Registry, string Allocated);
