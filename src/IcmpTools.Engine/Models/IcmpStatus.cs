namespace IcmpTools.Engine.Models;

/// <summary>What became of one probe. Network outcomes are data, never exceptions.</summary>
public enum IcmpStatus
{
    Success = 0,
    TimedOut = 1,
    DestinationUnreachable = 2,
    TimeExceeded = 3,
    PacketTooBig = 4,
    ParameterProblem = 5,
    /// <summary>The local stack refused the send (no route, firewall EPERM, buffer exhausted).</summary>
    SendFailed = 6,
}
