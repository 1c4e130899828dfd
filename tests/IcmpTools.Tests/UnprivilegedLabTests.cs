using System.Text.Json;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>A lab and a broadcast segment for the out-of-process tests, built once for the class.</summary>
public sealed class UnprivilegedLabFixture : IDisposable
{
    public const string Open = "0 2147483647";
    public const string Closed = "1 0";
    private readonly Lazy<NetLab> _lab = new(() =>
    {
        var lab = NetLab.Up();
        lab.Exec("c", $"sysctl -qw net.ipv4.ping_group_range='{Open}'");
        return lab;
    });
    private readonly Lazy<BroadcastSegment> _segment = new(() =>
    {
        var segment = BroadcastSegment.Up();
        segment.SetPingGroupRange(Open);
        return segment;
    });

    public NetLab Lab
    {
        get
        {
            LabRequirement.RequireRoot();
            return _lab.Value;
        }
    }

    public BroadcastSegment Segment
    {
        get
        {
            LabRequirement.RequireRoot();
            return _segment.Value;
        }
    }

    public void Dispose()
    {
        if (_lab.IsValueCreated)
        {
            _lab.Value.Dispose();
        }
        if (_segment.IsValueCreated)
        {
            _segment.Value.Dispose();
        }
    }
}

/// <summary>
/// Every cmdlet without privilege (issue 9): the module runs in its own process inside the lab's client
/// namespace, as uid/gid 65534 with no capabilities at all (setpriv), where net.ipv4.ping_group_range admits
/// it; the same scripts run as root for comparison, and with the range closed for the permission error.
/// </summary>
public sealed class UnprivilegedLabTests(UnprivilegedLabFixture fixture) : IClassFixture<UnprivilegedLabFixture>
{
    private ScriptRun InClient(string script, bool unprivileged = true) =>
        OutOfProcess.Run(fixture.Lab.Name + "-c", script, unprivileged);

    private static string Text(JsonElement e, string name) => e.GetProperty(name).ToString();

    [SkippableFact]
    public void TestIcmpEchoWorksUnprivilegedOverIPv4AndIPv6AndSaysSo()
    {
        var run = InClient("Test-IcmpEcho 198.18.4.2, 2001:db8:4::2 -Count 3 -IntervalSeconds 0.05 -TimeoutSeconds 2 -Verbose");

        Assert.True(run.Errors.Count == 0, run.ToString());
        Assert.Equal(2, run.Objects.Count);
        Assert.All(run.Objects, host =>
        {
            Assert.Equal(3, host.GetProperty("PacketsReceived").GetInt32());
            Assert.False(host.GetProperty("IsPrivileged").GetBoolean());
        });
        Assert.Equal(["198.18.4.2", "2001:db8:4::2"], run.Objects.Select(h => Text(h, "Address")).Order());
        Assert.Contains(run.Verbose, v => v.Contains("IPv4 (datagram)", StringComparison.Ordinal) && v.Contains("IPv6 (datagram)", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void AnUnprivilegedPingRefusesAnIntervalUnderTwoMillisecondsAsIputilsDoes()
    {
        var fast = InClient("Test-IcmpEcho 198.18.4.2 -Count 2 -IntervalSeconds 0.001");
        var floor = InClient("Test-IcmpEcho 198.18.4.2 -Count 2 -IntervalSeconds 0.002");
        var root = InClient("Test-IcmpEcho 198.18.4.2 -Count 2 -IntervalSeconds 0", unprivileged: false);

        Assert.Empty(fast.Objects);
        var error = Assert.Single(fast.Errors);
        Assert.StartsWith("InvalidParameterValue,IcmpTools.Commands.TestIcmpEchoCommand", error, StringComparison.Ordinal);
        Assert.Contains("0.002", error, StringComparison.Ordinal);
        Assert.True(floor.Errors.Count == 0, floor.ToString());
        Assert.Equal(2, Assert.Single(floor.Objects).GetProperty("PacketsSent").GetInt32());
        Assert.True(root.Errors.Count == 0, root.ToString());
        Assert.Equal(2, Assert.Single(root.Objects).GetProperty("PacketsReceived").GetInt32());
    }

    [SkippableFact]
    public void RootInTheSameNamespaceGetsRawSockets()
    {
        var run = InClient("Test-IcmpEcho 198.18.4.2 -Count 1 -Verbose", unprivileged: false);

        Assert.True(run.Errors.Count == 0, run.ToString());
        Assert.True(Assert.Single(run.Objects).GetProperty("IsPrivileged").GetBoolean());
        Assert.Contains(run.Verbose, v => v.Contains("IPv4 (raw)", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void InvokeIcmpMultiPingSweepsUnprivileged()
    {
        var run = InClient("Invoke-IcmpMultiPing 198.19.0.0/24, 2001:db8:ff::/120 -Count 1 -TimeoutSeconds 2 | " +
            "ForEach-Object { \"$($_.Family) $($_.IsAlive) $($_.IsPrivileged)\" }");

        Assert.True(run.Errors.Count == 0, run.ToString());
        var lines = run.Objects.Select(o => o.GetString()!).ToList();
        Assert.Equal(254, lines.Count(l => l == "IPv4 True False"));
        Assert.InRange(lines.Count(l => l == "IPv6 True False"), 255, 256);
        Assert.Equal(lines.Count, lines.Count(l => l.EndsWith(" True False", StringComparison.Ordinal)));
    }

    /// <summary>
    /// Hop by hop with TTL-limited requests on a socket, as a traceroute probes: r1 and r2 answer Time
    /// Exceeded, the silent r3 nothing (the receive times out), TTL 4 reaches the target; the unreachable
    /// block gets r2's Destination Unreachable. Unprivileged, these errors come from the error queue.
    /// </summary>
    [SkippableTheory]
    [InlineData("198.18.4.2", "198.18.12.7", "")]
    [InlineData("2001:db8:4::2", "2001:db8:12::7", "-IPv6")]
    public void TtlLimitedRequestsReportTheSameHopsUnprivilegedAsWithRoot(string target, string unreachable, string ipv6)
    {
        var script = $$"""
            $s = New-IcmpSocket {{ipv6}}
            foreach ($ttl in 1..4) {
                $r = New-IcmpRequest {{target}} -Sequence (100 + $ttl) -Ttl $ttl
                $s.Send($r)
                try { $x = $s.Receive($r, 1.5); "$ttl $($x.Status) $($x.Source)" } catch { "$ttl $($_.Exception.InnerException.GetType().Name)" }
            }
            $u = New-IcmpRequest {{unreachable}} -Sequence 200
            $s.Send($u)
            $x = $s.Receive($u, 2)
            try { $x.ThrowIfError(); 'no error' } catch { "$($_.Exception.InnerException.GetType().Name) $($x.Source)" }
            $s.Close()
            """;
        fixture.Lab.SetSilent("r3", true);
        ScriptRun unprivileged, root;
        try
        {
            unprivileged = InClient(script);
            root = InClient(script, unprivileged: false);
        }
        finally
        {
            fixture.Lab.SetSilent("r3", false);
        }

        var v4 = !target.Contains(':', StringComparison.Ordinal);
        string[] expected =
        [
            $"1 TimeExceeded {(v4 ? "198.18.1.1" : "2001:db8:1::1")}",
            $"2 TimeExceeded {(v4 ? "198.18.2.2" : "2001:db8:2::2")}",
            "3 TimeoutExceededException",
            $"4 Success {target}",
            $"DestinationUnreachableException {(v4 ? "198.18.2.2" : "2001:db8:2::2")}",
        ];
        Assert.True(unprivileged.Errors.Count == 0, unprivileged.ToString());
        Assert.Equal(expected, unprivileged.Objects.Select(o => o.GetString()));
        Assert.Equal(expected, root.Objects.Select(o => o.GetString()));
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void ASocketSendsTheRequestAsBuilt(bool unprivileged)
    {
        var run = InClient("""
            $s = New-IcmpSocket
            $r = New-IcmpRequest 198.18.4.2 -Identifier 4321 -Sequence 77 -Payload ([byte[]](1..16)) -TrafficClass 32
            $s.Send($r)
            $s.Receive($r, 2)
            $e = New-IcmpRequest 198.18.4.2 -Identifier 4321 -Sequence 78 -Ttl 1
            $s.Send($e)
            $x = $s.Receive(2)
            $x
            try { $x.ThrowIfError() } catch { $_.Exception.InnerException.GetType().FullName; $_.Exception.InnerException.Reply.Source }
            $s
            """, unprivileged);

        Assert.True(run.Errors.Count == 0, run.ToString());
        Assert.Equal(5, run.Objects.Count);
        var reply = run.Objects[0];
        Assert.Equal("Success", Text(reply, "Status"));
        Assert.Equal(77, reply.GetProperty("Sequence").GetInt32());
        Assert.Equal(8 + 16, reply.GetProperty("BytesReceived").GetInt32());
        Assert.Equal(61, reply.GetProperty("Ttl").GetInt32());
        Assert.Equal(!unprivileged, reply.GetProperty("IsPrivileged").GetBoolean());
        if (!unprivileged)
        {
            // A raw socket puts the identifier asked for on the wire; a datagram socket's kernel puts its own.
            Assert.Equal(4321, reply.GetProperty("Identifier").GetInt32());
        }
        var exceeded = run.Objects[1];
        Assert.Equal("TimeExceeded", Text(exceeded, "Status"));
        Assert.Equal("198.18.1.1", Text(exceeded, "Source"));
        Assert.Equal(78, exceeded.GetProperty("Sequence").GetInt32());
        Assert.Equal("IcmpTools.Engine.Errors.TimeExceededException", run.Objects[2].GetString());
        Assert.Equal("198.18.1.1", run.Objects[3].GetString());
        Assert.Equal(!unprivileged, run.Objects[4].GetProperty("IsPrivileged").GetBoolean());
    }

    [SkippableFact]
    public void WithTheRangeClosedTheUnprivilegedUserGetsOnePermissionErrorWithAdviceForItsHost()
    {
        fixture.Lab.Exec("c", $"sysctl -qw net.ipv4.ping_group_range='{UnprivilegedLabFixture.Closed}'");
        ScriptRun ping, socket, rootRaw;
        try
        {
            ping = InClient("Test-IcmpEcho 198.18.4.2, 198.18.4.2 -Count 1");
            socket = InClient("New-IcmpSocket");
            // Even root may open no datagram socket now, but a raw one: the default must take that.
            rootRaw = InClient("Test-IcmpEcho 198.18.4.2 -Count 1", unprivileged: false);
        }
        finally
        {
            fixture.Lab.Exec("c", $"sysctl -qw net.ipv4.ping_group_range='{UnprivilegedLabFixture.Open}'");
        }

        var error = Assert.Single(ping.Errors);
        Assert.StartsWith("SocketPermissionDenied,IcmpTools.Commands.TestIcmpEchoCommand ", error, StringComparison.Ordinal);
        Assert.Empty(ping.Objects);
        // The advice fits how this PowerShell runs: on the shared dotnet host, never setcap.
        Assert.Contains("ping_group_range='65534 65534'", error, StringComparison.Ordinal);
        Assert.Contains("shared .NET host", error, StringComparison.Ordinal);
        Assert.DoesNotContain("setcap cap_net_raw", error, StringComparison.Ordinal);
        Assert.StartsWith("SocketPermissionDenied,IcmpTools.Commands.NewIcmpSocketCommand ", Assert.Single(socket.Errors), StringComparison.Ordinal);
        Assert.True(rootRaw.Errors.Count == 0, rootRaw.ToString());
        Assert.True(Assert.Single(rootRaw.Objects).GetProperty("IsPrivileged").GetBoolean());
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void EveryHostOnTheSegmentAnswersABroadcastPing(bool unprivileged)
    {
        var run = OutOfProcess.Run(fixture.Segment.Client, $$"""
            Test-IcmpEcho {{BroadcastSegment.BroadcastAddress}} -Broadcast -Count 2 -IntervalSeconds 0.2 -TimeoutSeconds 1 |
                ForEach-Object { "$($_.Sequence) $($_.Source) $($_.Status)" }
            Test-IcmpEcho {{BroadcastSegment.BroadcastAddress}} -Count 1
            $s = New-IcmpSocket -Broadcast
            $r = New-IcmpRequest {{BroadcastSegment.BroadcastAddress}} -Sequence 9
            $s.Send($r)
            1..3 | ForEach-Object { $x = $s.Receive($r, 2); "socket $($x.Source) $($x.Status)" }
            $t = New-IcmpSocket
            try { $t.Send($r) } catch { $_.Exception.InnerException.GetType().Name }
            """, unprivileged);

        var lines = run.Objects.Select(o => o.GetString()!).ToList();
        foreach (var host in BroadcastSegment.Hosts)
        {
            Assert.Contains($"1 {host} Success", lines);
            Assert.Contains($"2 {host} Success", lines);
            Assert.Contains($"socket {host} Success", lines);
        }
        Assert.Equal(6 + 3 + 1, lines.Count);
        Assert.Equal("SocketBroadcastException", lines[^1]);
        Assert.StartsWith("BroadcastNotAllowed,IcmpTools.Commands.TestIcmpEchoCommand ", Assert.Single(run.Errors), StringComparison.Ordinal);
    }
}
