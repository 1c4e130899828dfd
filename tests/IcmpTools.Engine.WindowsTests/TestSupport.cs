using System.Net;
using System.Runtime.Versioning;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using IcmpTools.Engine.Sockets.Windows;
using Xunit;

namespace IcmpTools.Engine.WindowsTests;

/// <summary>Which Windows transport a test runs over.</summary>
public enum WindowsTransport
{
    IpHelper,
    RawWinsock,
}

/// <summary>Opens transports and probers for the tests, and collects probe outcomes.</summary>
[SupportedOSPlatform("windows")]
internal static class Transports
{
    public static IIcmpTransport Open(WindowsTransport kind, IcmpFamily family = IcmpFamily.IPv4) => kind == WindowsTransport.IpHelper
        ? new IpHelperTransport(family)
        : new WinsockRawTransport(family);

    public static ProbeSpec Probe(string destination, ushort sequence, int ttl = 64, double timeoutSeconds = 5, int payload = 32) => new()
    {
        Destination = IpKey.FromAddress(IPAddress.Parse(destination)),
        Identifier = 0x4854,
        Sequence = sequence,
        PayloadSize = payload,
        Ttl = ttl,
        TimeoutTicks = (long)(timeoutSeconds * TimeProvider.System.TimestampFrequency),
        Token = sequence,
        MatchWithoutCookie = true,
    };
}

/// <summary>Collects outcomes; a test waits on <see cref="WaitFor"/>, never on a sleep.</summary>
internal sealed class Outcomes : IProbeObserver, IDisposable
{
    private readonly object _gate = new();
    private readonly List<ProbeResult> _results = new();
    private readonly SemaphoreSlim _arrived = new(0);

    public void OnProbeCompleted(in ProbeResult result)
    {
        lock (_gate)
        {
            _results.Add(result);
        }
        _arrived.Release();
    }

    public void OnDuplicate(in ProbeResult result)
    {
    }

    /// <summary>Waits for <paramref name="count"/> outcomes; the bound (2 minutes in all) only stops a hung run: every probe has its own timeout.</summary>
    public List<ProbeResult> WaitFor(int count)
    {
        var until = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        for (var i = 0; i < count; i++)
        {
            var left = until - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero && _arrived.Wait(left), $"only {i} of {count} probes finished");
        }
        lock (_gate)
        {
            return _results.OrderBy(r => r.Token).ToList();
        }
    }

    public void Dispose() => _arrived.Dispose();
}
