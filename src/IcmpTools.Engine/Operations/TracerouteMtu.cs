using System.Net;
using System.Runtime.CompilerServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// A trace with tracepath's MTU column (<c>Trace-IcmpRoute -Mtu</c>): the path MTU discovery runs beside the trace
/// on the same prober and scheduler kind, and each hop gets the MTU of the path up to it. A router that named an
/// MTU (Fragmentation Needed / Packet Too Big) limits every hop beyond it; the destination gets the discovered path
/// MTU itself, which also covers a black hole no router named (where in the path it lies, no probe can tell).
/// </summary>
public static class TracerouteMtu
{
    /// <param name="prober">A prober that sends with DontFragment; the trace's small probes are not affected by it.</param>
    public static async IAsyncEnumerable<Hop> StreamAsync(Prober prober, IPAddress address, TracerouteOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prober);
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(options);
        var route = prober.KnownPathMtu(IpKey.FromAddress(address));
        var mtuOptions = new PathMtuOptions { Timeout = options.Timeout, TrafficClass = options.TrafficClass, Source = options.Source };
        var discovery = PathMtu.DiscoverAsync(prober, address, mtuOptions, cancellationToken);
        PathMtuResult? found = null;
        var current = 0;
        try
        {
            await foreach (var hop in Traceroute.StreamAsync(prober, address, options, cancellationToken).ConfigureAwait(false))
            {
                if (found is null)
                {
                    found = await discovery.ConfigureAwait(false);
                    current = StartingMtu(route, found);
                }
                var mtu = hop.Status == IcmpStatus.Success && found.Mtu is { } end ? end : current;
                yield return hop.WithMtu(mtu > 0 ? mtu : null);
                foreach (var report in found.Reports)
                {
                    if (report.Address is not null && hop.Addresses.Contains(report.Address) && report.Mtu < current)
                    {
                        // The link after this router is the narrower one: the hops beyond it see its MTU.
                        current = report.Mtu;
                    }
                }
            }
        }
        finally
        {
            // A trace that ended early (cancelled, failed) must not leave the discovery unobserved.
            if (found is null)
            {
                try
                {
                    await discovery.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    /// <summary>What the path carries from the first hop: the route's MTU, or less when this machine already knew less.</summary>
    private static int StartingMtu(int route, PathMtuResult found)
    {
        var start = route > 0 ? route : found.Mtu ?? 0;
        foreach (var report in found.Reports)
        {
            if (report.Address is null && report.Mtu < start)
            {
                start = report.Mtu;
            }
        }
        return start;
    }
}
