using System.Diagnostics;
using System.Text.Json;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// Names that do not resolve, end to end through the shell. Run in a fresh network namespace with only
/// loopback up, so the resolver's query has no route and fails at once: no packet leaves the machine.
/// </summary>
[Collection(SocketsGroup.Name)]
public sealed class NameResolutionTests
{
    [SkippableFact]
    public void AnUnresolvableNameIsOneErrorPerCmdletAndTheOtherTargetsStillAnswer()
    {
        LabRequirement.RequireRoot();
        var ns = $"itl-dns-{Environment.ProcessId}-{Random.Shared.Next(100_000)}";
        Run("ip", ["netns", "add", ns]);
        try
        {
            Run("ip", ["-n", ns, "link", "set", "lo", "up"]);
            var shell = Path.Combine(PowerShellSession.RepoRoot, "tools", "IcmpTools.Shell", "bin", Configuration, "net10.0", "IcmpTools.Shell.dll");
            var (exit, stdout, stderr) = Run("ip", ["netns", "exec", ns, "dotnet", shell, "-OutputFormat", "Json", "-Command",
                "Test-IcmpEcho no-such-host.invalid, 127.0.0.1 -Count 1; Invoke-IcmpMultiPing nothing-here.invalid, 127.0.0.2 -Count 1"],
                check: false);

            Assert.Equal(1, exit);
            var hosts = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => JsonDocument.Parse(line).RootElement).ToList();
            Assert.Equal(["127.0.0.1", "127.0.0.2"], hosts.Select(h => h.GetProperty("Address").GetString()));
            Assert.All(hosts, h => Assert.True(h.GetProperty("IsAlive").GetBoolean()));
            Assert.Contains("FullyQualifiedErrorId : NameResolutionFailed,IcmpTools.Commands.TestIcmpEchoCommand", stderr, StringComparison.Ordinal);
            Assert.Contains("FullyQualifiedErrorId : NameResolutionFailed,IcmpTools.Commands.InvokeIcmpMultiPingCommand", stderr, StringComparison.Ordinal);
            Assert.Contains("ObjectNotFound: (no-such-host.invalid:String)", stderr, StringComparison.Ordinal);
        }
        finally
        {
            Run("ip", ["netns", "del", ns], check: false);
        }
    }

    /// <summary>Release or Debug: the configuration these tests were built in, so the shell of the same build runs.</summary>
    private static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    private static (int Exit, string Stdout, string Stderr) Run(string file, string[] arguments, bool check = true)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in 60 s");
        }
        var result = (process.ExitCode, stdout.Result, stderr.Result);
        if (check && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {result.Item3}");
        }
        return result;
    }
}
