using System.Management.Automation;
using IcmpTools.Engine.Models;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// What users do with the objects: print them (at 80 columns, non-interactive pwsh's width, and wider),
/// export them (CSV, JSON, CliXml) and filter and sort them after. The hosts are built here, so dead and
/// unreachable ones need no network; nothing is sent.
/// </summary>
public sealed class OutputTests
{
    private static readonly Host Alive = new("127.0.0.1", null, IcmpFamily.IPv4, 4, [0.051, 0.047, 0.062, 0.049], 0, IcmpStatus.Success, null);
    private static readonly Host Named = new("127.0.0.2", "localhost", IcmpFamily.IPv4, 4, [0.031, 0.033, 0.030, 0.035], 1, IcmpStatus.Success, null);
    private static readonly Host Slow = new("::1", null, IcmpFamily.IPv6, 4, [1250.5, 2000], 0, IcmpStatus.Success, null);
    private static readonly Host TimedOut = new("127.0.0.9", null, IcmpFamily.IPv4, 4, [], 0, IcmpStatus.TimedOut, null);
    private static readonly Host Unreachable = new("fd00:1234:5678:9abc:def0:1234:5678:9abc", "a-rather-long-host-name.test",
        IcmpFamily.IPv6, 4, [], 0, IcmpStatus.DestinationUnreachable, "fd00::1");

    private static readonly Host[] Hosts = [Alive, Named, Slow, TimedOut, Unreachable];

    private static readonly Reply Answered = new("127.0.0.1", "127.0.0.1", IcmpFamily.IPv4, 4242, 65535, 0, 0, 64, 0.043, 64,
        new DateTime(2026, 12, 1, 23, 0, 0, DateTimeKind.Utc), IcmpStatus.Success);
    private static readonly Reply Lost = new("::1", null, IcmpFamily.IPv6, 4242, 2, -1, -1, 0, null, null,
        new DateTime(2026, 12, 1, 23, 0, 1, DateTimeKind.Utc), IcmpStatus.TimedOut);

    private static PowerShellSession SessionWith(string name, object value)
    {
        var ps = new PowerShellSession();
        ps.SetVariable(name, value);
        return ps;
    }

    private static string[] Lines(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r', ' ')).Where(l => l.Length > 0).ToArray();

    [Fact]
    public void TheHostTableFitsEightyColumnsWithTheStatusByNameAndAWholeIPv6Address()
    {
        using var ps = SessionWith("hosts", Hosts);

        var lines = Lines(ps.Invoke("$hosts | Out-String -Width 80").Single().ToString());

        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: '{l}'"));
        Assert.Equal(["Status", "Loss", "Avg(ms)", "Address"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(2 + Hosts.Length, lines.Length);
        var rows = lines[2..];
        Assert.Equal("Success 0% 0.052 127.0.0.1", Squeeze(rows[0]));
        Assert.StartsWith("Success 0% 0.032 127.0.0.2 (", Squeeze(rows[1]), StringComparison.Ordinal);
        // 1.25 s to 2 s: fewer decimals, still within the column.
        Assert.Equal("Success 50% 1625.25 ::1", Squeeze(rows[2]));
        // A timeout and an unreachable read differently, and a dead host shows no RTT at all (not 0.000).
        Assert.Equal("TimedOut 100% 127.0.0.9", Squeeze(rows[3]));
        // The enum's own name (what Where-Object Status -eq finds) and the whole address; only the name is cut.
        Assert.StartsWith("DestinationUnreachable 100% fd00:1234:5678:9abc:def0:1234:5678:9abc (", Squeeze(rows[4]), StringComparison.Ordinal);
    }

    [Fact]
    public void AWideConsoleGivesTheExtraWidthToTheAddressesNotToAnEmptyColumn()
    {
        using var ps = SessionWith("hosts", Hosts);

        var lines = Lines(ps.Invoke("$hosts | Out-String -Width 160").Single().ToString());

        Assert.Contains(lines, l => l.EndsWith("fd00:1234:5678:9abc:def0:1234:5678:9abc (a-rather-long-host-name.test)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith("127.0.0.2 (localhost)", StringComparison.Ordinal));
        // The numbers sit right after the status, as at 80 columns: no gap opens in the middle of a row.
        Assert.Equal(Lines(ps.Invoke("$hosts[0] | Out-String -Width 80").Single().ToString())[2],
            Lines(ps.Invoke("$hosts[0] | Out-String -Width 160").Single().ToString())[2]);
    }

    [Fact]
    public void TheReplyTableFitsEightyColumnsAndShowsEveryAddressWhenWider()
    {
        using var ps = SessionWith("replies", new[] { Answered, Lost });

        var narrow = Lines(ps.Invoke("$replies | Out-String -Width 80").Single().ToString());
        var wide = Lines(ps.Invoke("$replies | Out-String -Width 160").Single().ToString());

        Assert.All(narrow, l => Assert.True(l.Length <= 80, $"{l.Length} columns: '{l}'"));
        Assert.Equal(["Seq", "Status", "Rtt(ms)", "Ttl", "Bytes", "Destination", "Source"], narrow[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("65535 Success 0.043 64 64 127.0.0.1 127.0.0.1", Squeeze(narrow[2]));
        Assert.Equal("2 TimedOut 0 ::1", Squeeze(narrow[3]));
        Assert.Equal(narrow.Select(Squeeze), wide.Select(Squeeze));
    }

    [Theory]
    [InlineData(typeof(Host))]
    [InlineData(typeof(Reply))]
    public void TheListViewShowsEveryPropertyByItsOwnName(Type type)
    {
        var value = type == typeof(Host) ? (object)Unreachable : Answered;
        using var ps = SessionWith("value", value);

        var labels = Lines(ps.Invoke("$value | Format-List | Out-String -Width 160").Single().ToString())
            .Select(l => l.Split(':', 2)[0].Trim()).ToHashSet();

        Assert.All(type.GetProperties().Select(p => p.Name), name => Assert.Contains(name, labels));
    }

    [Fact]
    public void TheListViewPrintsRttsInMillisecondsAndNothingForADeadHost()
    {
        using var ps = SessionWith("hosts", new[] { Alive, TimedOut });

        var text = ps.Invoke("$hosts | Format-List | Out-String -Width 120").Single().ToString();

        Assert.Contains("Jitter          : 0.011 ms", text, StringComparison.Ordinal);
        Assert.Contains("Rtts            : 0.051, 0.047, 0.062, 0.049", text, StringComparison.Ordinal);
        Assert.Contains("AvgRtt          : \n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void HostsBackFromCliXmlPrintWithTheSameView()
    {
        using var ps = SessionWith("hosts", Hosts);

        var before = ps.Invoke("$hosts | Out-String -Width 80").Single().ToString();
        var after = ps.Invoke("""
            $xml = [System.Management.Automation.PSSerializer]::Serialize($hosts)
            [System.Management.Automation.PSSerializer]::Deserialize($xml) | Out-String -Width 80
            """).Single().ToString();

        Assert.Empty(ps.Errors);
        Assert.Equal(before, after);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(4)]
    public void EveryHostPropertySurvivesCliXmlWithTheSameValue(int which)
    {
        using var ps = SessionWith("h", Hosts[which]);

        var results = ps.Invoke("""
            # Depth 1 is what remoting and Start-Job use; the module's types ask for 2 so Rtts stays a list.
            $back = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($h, 1))
            foreach ($p in $h.psobject.Properties.Name) {
                $want = $h.$p; $got = $back.$p
                if ($p -eq 'Rtts') { $same = ($want.Count -eq $got.Count) -and -not (Compare-Object @($want) @($got) -SyncWindow 0) }
                else { $same = $want -eq $got -and "$want" -eq "$got" }
                if (-not $same) { "$p : '$want' became '$got'" }
            }
            """);

        Assert.Empty(ps.Errors);
        Assert.Empty(results.Select(r => r.ToString()));
    }

    [Fact]
    public void StatusAndFamilyFilterByNameAfterACliXmlRoundTrip()
    {
        using var ps = SessionWith("hosts", Hosts);

        var found = ps.Invoke("""
            $back = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($hosts))
            ($back | Where-Object Status -eq Success).Count
            ($back | Where-Object Status -eq ([IcmpTools.Engine.Models.IcmpStatus]::TimedOut)).Count
            ($back | Where-Object Family -eq IPv6).Count
            ($back | Group-Object Status | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ','
            """).Select(o => o.ToString()).ToArray();

        Assert.Empty(ps.Errors);
        Assert.Equal(["3", "1", "2", "DestinationUnreachable=1,Success=3,TimedOut=1"], found);
    }

    [Fact]
    public void ReplyPropertiesSurviveCliXmlAndFilterByName()
    {
        using var ps = SessionWith("replies", new[] { Answered, Lost });

        var found = ps.Invoke("""
            $back = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($replies, 1))
            ($back | Where-Object Status -eq TimedOut).Destination
            ($back | Where-Object Family -eq IPv4).Rtt
            $back[0].Timestamp -eq $replies[0].Timestamp
            $null -eq $back[1].Rtt
            """).Select(o => o.ToString()).ToArray();

        Assert.Empty(ps.Errors);
        Assert.Equal(["::1", "0.043", "True", "True"], found);
    }

    [Fact]
    public void JsonWritesEnumsByNameAndMissingRttsAsNull()
    {
        using var ps = SessionWith("hosts", new[] { Alive, TimedOut });

        var json = ps.Invoke("$hosts | ConvertTo-Json -Compress").Single().ToString();

        Assert.Contains("\"Status\":\"Success\"", json, StringComparison.Ordinal);
        Assert.Contains("\"Family\":\"IPv4\"", json, StringComparison.Ordinal);
        Assert.Contains("\"Status\":\"TimedOut\"", json, StringComparison.Ordinal);
        Assert.Contains("\"Rtts\":[0.051,0.047,0.062,0.049]", json, StringComparison.Ordinal);
        Assert.Contains("\"AvgRtt\":null", json, StringComparison.Ordinal);
        Assert.Contains("\"Jitter\":null", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\"MinRtt\":0,", json, StringComparison.Ordinal);
    }

    [Fact]
    public void CsvCarriesTheRttsFlatAndTheNumbersParseBack()
    {
        using var ps = SessionWith("hosts", Hosts);
        var file = Path.Combine(Path.GetTempPath(), $"icmptools-{Guid.NewGuid():N}.csv");
        ps.SetVariable("file", file);
        try
        {
            var back = ps.Invoke("""
                $hosts | Export-Csv -LiteralPath $file
                $rows = Import-Csv -LiteralPath $file
                foreach ($r in $rows) {
                    $rtts = @($r.Rtts -split ';' | Where-Object { $_ } | ForEach-Object { [double]$_ })
                    $avg = if ($r.AvgRtt) { [Math]::Round([double]$r.AvgRtt, 6) }
                    '{0}|{1}|{2}|{3}|{4}' -f $r.Address, ($rtts -join ','), $avg, $r.Status, $r.Family
                }
                """).Select(o => o.ToString()).ToArray();

            Assert.Empty(ps.Errors);
            Assert.Equal("127.0.0.1|0.051,0.047,0.062,0.049|0.05225|Success|IPv4", back[0]);
            Assert.Equal("::1|1250.5,2000|1625.25|Success|IPv6", back[2]);
            // No reply, no value: an empty field, not a 0 that sorts first.
            Assert.Equal("127.0.0.9|||TimedOut|IPv4", back[3]);
            Assert.DoesNotContain("ReadOnlyCollection", File.ReadAllText(file), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void DeadHostsHaveNoRttSoTheyNeverRankAsFastest()
    {
        using var ps = SessionWith("hosts", Hosts);

        var found = ps.Invoke("""
            # PowerShell orders $null before any number, so dead hosts sort apart from every measured value,
            # with no value of their own, and the fastest measured host is the fastest alive one.
            "$(@($hosts | Sort-Object AvgRtt | Select-Object -First 2 | Where-Object { $null -eq $_.AvgRtt -and -not $_.IsAlive }).Count)"
            "$(($hosts | Sort-Object AvgRtt | Where-Object { $null -ne $_.AvgRtt } | Select-Object -First 1).Address)"
            "$(@($hosts | Sort-Object AvgRtt | Select-Object -First 2 | Where-Object IsAlive).Count)"
            
            """).Select(o => o.ToString()).ToArray();

        Assert.Equal(["2", "127.0.0.2", "0"], found);
    }

    private static string Squeeze(string line) => string.Join(' ', line.Split(' ', StringSplitOptions.RemoveEmptyEntries));
}
