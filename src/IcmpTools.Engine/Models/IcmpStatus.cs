namespace IcmpTools.Engine.Models;

/// <summary>
/// What became of one probe. Network outcomes are data, never exceptions. JSON and CliXml carry it by name
/// (see <see cref="IcmpFamily"/>), so <c>Where-Object Status -eq Success</c> works after a round trip.
/// </summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))]
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter))]
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
