namespace IcmpTools.Engine.Models;

/// <summary>The IP version a probe travels over. Numeric values are the IP version so JSON and CSV read naturally.</summary>
public enum IcmpFamily
{
    IPv4 = 4,
    IPv6 = 6,
}
