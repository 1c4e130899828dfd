using System.Net;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Operations;

/// <summary>
/// Every operation ends with the socket's error when the socket breaks, whether the send throws (the scheduler
/// fails) or the receive loop does (the pending probes fail): a consumer never waits forever (issue 14: the four
/// operations start their scheduler and hear of its failure one way). Virtual time throughout.
/// </summary>
public sealed class SocketFailureTests
{
    private static readonly IPAddress Target = IPAddress.Parse("192.0.2.9");

    /// <summary>How the socket breaks.</summary>
    public enum Breakage
    {
        /// <summary>The very first send throws.</summary>
        FirstSend,
        /// <summary>The first send passes, the next one throws.</summary>
        LaterSend,
        /// <summary>The receive loop throws once the first probe is out: pending probes fail, later sends are refused.</summary>
        Receive,
    }

    public static TheoryData<string, Breakage> Cases()
    {
        var data = new TheoryData<string, Breakage>();
        foreach (var operation in new[] { "ping", "sweep", "trace", "trace-rounds", "pmtu" })
        {
            foreach (var breakage in Enum.GetValues<Breakage>())
            {
                data.Add(operation, breakage);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ABrokenSocketEndsTheOperationWithItsError(string operation, Breakage breakage)
    {
        using var fake = new FakeTransport(null) { SendException = breakage == Breakage.FirstSend ? Broken() : null };
        fake.Network = echo =>
        {
            if (breakage == Breakage.LaterSend)
            {
                fake.SendException = Broken();
                // Small probes are answered and large ones dropped (a PMTU black hole), so every operation has a
                // next send to make: the next ping or hop probe, the path MTU search's next size.
                return echo.Payload.Length > 1000 ? [] : [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1))];
            }
            if (breakage == Breakage.Receive)
            {
                fake.ReceiveException = new InvalidOperationException("the receive path broke");
                fake.Wake();
            }
            // Nothing answers: the probe is still pending when the receive loop breaks.
            return [];
        };
        using var prober = new Prober(fake, fake.Clock);

        var error = await Assert.ThrowsAnyAsync<IcmpException>(() =>
            VirtualTime.Run(fake.Clock, Run(operation, prober), TimeSpan.FromMilliseconds(50)));

        // The error names what broke, whichever way it travelled.
        Assert.Contains(breakage == Breakage.Receive ? "the receive path broke" : "the socket broke", Describe(error));
        // It broke where it was meant to: before anything left, or after the first probe.
        Assert.Equal(breakage == Breakage.FirstSend, fake.SentCount == 0);
    }

    private static SocketUnavailableException Broken() => new("the socket broke");

    private static string Describe(Exception error)
    {
        var text = "";
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            text += e.Message + " | ";
        }
        return text;
    }

    private static Task Run(string operation, Prober prober) => operation switch
    {
        "ping" => Ping.PingAsync(prober, Target, null, new PingOptions { Count = 4, Interval = TimeSpan.FromSeconds(0.2), Timeout = TimeSpan.FromSeconds(10) }),
        "sweep" => Sweep(prober),
        // A rate of 10 a second sends one probe a round: the first send passes, the next throws.
        "trace" => Drain(Traceroute.StreamAsync(prober, Target, new TracerouteOptions { Rate = 10, Timeout = TimeSpan.FromSeconds(10) })),
        "trace-rounds" => Drain(Traceroute.StreamAsync(prober, Target, new TracerouteOptions { Rate = 10, Rounds = 3, Timeout = TimeSpan.FromSeconds(10) })),
        "pmtu" => PathMtu.DiscoverAsync(prober, Target, new PathMtuOptions { Timeout = TimeSpan.FromSeconds(10) }),
        _ => throw new ArgumentOutOfRangeException(nameof(operation)),
    };

    private static async Task Sweep(Prober prober)
    {
        using var sweep = new MultiPing(_ => prober, new MultiPingOptions { Count = 2, Rate = 10, Timeout = TimeSpan.FromSeconds(10) }, prober.Clock);
        await Drain(sweep.RunAsync(Targets("192.0.2.0/28")));
    }

    private static async IAsyncEnumerable<string> Targets(string target)
    {
        await Task.Yield();
        yield return target;
    }

    private static async Task Drain<T>(IAsyncEnumerable<T> items)
    {
        await foreach (var _ in items)
        {
        }
    }
}
