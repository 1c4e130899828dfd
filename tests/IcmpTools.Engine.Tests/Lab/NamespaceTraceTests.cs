using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// The trace by name opens its socket in the caller's network namespace. The test's own namespace (h14e-…,
/// removed also on failure) has its loopback down, so 127.0.0.1 answers only from the root namespace.
/// </summary>
public sealed class NamespaceTraceTests
{
    [SkippableFact]
    public void ATraceByNameOpensItsSocketInTheCallersNamespace()
    {
        // Issue 14 (8): the socket was opened after the name lookup's await, on a pool thread of the root namespace.
        LabRequirement.RequireRoot();
        using var own = new OwnNamespace();
        var hops = own.Invoke(() =>
        {
            var options = new TracerouteOptions { MaxHops = 1, Count = 1, Timeout = TimeSpan.FromSeconds(0.5) };
            var found = new List<Hop>();
            var trace = Traceroute.TraceAsync("localhost", options, IcmpFamily.IPv4).GetAsyncEnumerator();
            try
            {
                while (trace.MoveNextAsync().AsTask().GetAwaiter().GetResult())
                {
                    found.Add(trace.Current);
                }
            }
            finally
            {
                trace.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return found;
        });

        var hop = Assert.Single(hops);
        Assert.NotEqual(IcmpStatus.Success, hop.Status);
        Assert.Null(hop.Address);
    }
}
