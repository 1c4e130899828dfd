namespace IcmpTools.Engine.Sockets;

/// <summary>
/// A transport with more than one way out (the raw transport's Ethernet frames beside its raw socket) says
/// which one its packets took, so a cmdlet can tell the user in -Verbose. A capability, not part of
/// <see cref="IIcmpTransport"/>: transports with one way out do not implement it.
/// </summary>
public interface ISendPathReport
{
    /// <summary>A sentence on the paths packets took so far; null when only one path was ever possible.</summary>
    string? SendPathSummary { get; }
}
