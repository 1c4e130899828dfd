using IcmpTools.Engine.Errors;

namespace IcmpTools.Engine.Models;

public sealed partial class Hop
{
    /// <summary>
    /// What traceroute prints beside a router that refused to forward: "!H" (host unreachable), "!N", "!P",
    /// "!X" (administratively prohibited), "!F" (fragmentation needed, packet too big), "!S", "!V", "!C" or
    /// "!code"; null for a router that forwarded, the destination and a silent hop.
    /// </summary>
    public string? Annotation => IcmpCodes.Annotation(Family, Status, Code);
}
