namespace IcmpTools.Engine.Models;

/// <summary>
/// The IP version a probe travels over; the numeric value is the version. JSON (Json.NET and System.Text.Json)
/// and, through IcmpTools.Types.ps1xml, CliXml carry it by name, so a filter on IPv6 works after a round trip.
/// </summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))]
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter))]
public enum IcmpFamily
{
    IPv4 = 4,
    IPv6 = 6,
}
