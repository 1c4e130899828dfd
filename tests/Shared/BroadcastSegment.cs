using System.Diagnostics;
using System.Globalization;

namespace IcmpTools.TestSupport;

/// <summary>
/// One Ethernet segment of namespaces (tests/netlab/segment.sh): client <c>Name-c</c> at 198.18.100.1 and
/// hosts h1..h3 at 198.18.100.11..13, which answer broadcast echo. Broadcast address: 198.18.100.255.
/// </summary>
public sealed class BroadcastSegment : IDisposable
{
    public const string BroadcastAddress = "198.18.100.255";
    public static readonly string[] Hosts = ["198.18.100.11", "198.18.100.12", "198.18.100.13"];
    private static int s_counter;
    private int _disposed;

    private BroadcastSegment(string name) => Name = name;

    public string Name { get; }

    /// <summary>The client's namespace name, for <c>ip netns exec</c>.</summary>
    public string Client => Name + "-c";

    public static BroadcastSegment Up()
    {
        var name = string.Create(CultureInfo.InvariantCulture,
            $"isg{Environment.ProcessId:x}-{Interlocked.Increment(ref s_counter):x}-{Random.Shared.Next(0x10000):x4}");
        var segment = new BroadcastSegment(name);
        var (code, error) = Run("up", name);
        if (code != 0)
        {
            segment.Dispose();
            throw new InvalidOperationException($"segment.sh up {name} failed (exit {code}): {error}");
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => segment.Dispose();
        return segment;
    }

    /// <summary>Sets net.ipv4.ping_group_range in the client's namespace ("0 2147483647" admits everyone, "1 0" no one).</summary>
    public void SetPingGroupRange(string range)
    {
        var start = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var arg in (string[])["netns", "exec", Client, "sysctl", "-qw", $"net.ipv4.ping_group_range={range}"])
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start ip.");
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"sysctl ping_group_range={range} in {Client} failed: {error}");
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Run("down", Name);
        }
    }

    private static (int Code, string Error) Run(string command, string name)
    {
        var script = Path.Combine(Path.GetDirectoryName(NetLabScript())!, "segment.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(command);
        start.ArgumentList.Add(name);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start bash.");
        var error = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "timed out");
        }
        return (process.ExitCode, error.Result.Trim());
    }

    private static string NetLabScript()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "IcmpTools.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "netlab", "netlab.sh");
            }
        }
        throw new InvalidOperationException($"No IcmpTools.sln above {AppContext.BaseDirectory}.");
    }
}
