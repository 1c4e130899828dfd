using System.Diagnostics;
using System.Text.Json;

namespace IcmpTools.Tests;

/// <summary>What a script run through <see cref="ScriptHost"/> wrote.</summary>
public sealed record ScriptRun(IReadOnlyList<JsonElement> Objects, IReadOnlyList<string> Errors, IReadOnlyList<string> Verbose,
    string Stdout, string Stderr)
{
    public override string ToString() => $"stdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// Runs the built module in a separate process inside a network namespace, as root or as an unprivileged
/// user: uid/gid 65534 with every capability dropped (setpriv), the way a normal user runs it. That user
/// cannot read the build tree, so the test binaries and the module are staged once into a temporary
/// directory anyone may read, removed when the test process ends.
/// </summary>
public static class OutOfProcess
{
    public const int Nobody = 65534;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);
    private static readonly Lazy<string> Stage = new(StageBinaries);

    public static ScriptRun Run(string networkNamespace, string script, bool unprivileged)
    {
        var root = Stage.Value;
        var start = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["netns", "exec", networkNamespace])
        {
            start.ArgumentList.Add(arg);
        }
        if (unprivileged)
        {
            foreach (var arg in (string[])["setpriv", $"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all"])
            {
                start.ArgumentList.Add(arg);
            }
        }
        foreach (var arg in (string[])["env", $"HOME={Path.Combine(root, "home")}", "DOTNET_CLI_TELEMETRY_OPTOUT=1",
            "POWERSHELL_TELEMETRY_OPTOUT=1", DotnetHost(), "exec", Path.Combine(root, "bin", "IcmpTools.Tests.dll"), ScriptHost.Flag,
            Path.Combine(root, "IcmpTools", "IcmpTools.psd1"), script])
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start ip netns exec.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"The script did not finish within {Limit.TotalSeconds:0} s: {stderr.Result}");
        }
        var lines = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var objects = lines.Where(l => l.StartsWith("OUT ", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l[4..]).RootElement.Clone()).ToList();
        var errors = lines.Where(l => l.StartsWith("ERR ", StringComparison.Ordinal)).Select(l => l[4..]).ToList();
        var verbose = lines.Where(l => l.StartsWith("VERBOSE ", StringComparison.Ordinal)).Select(l => l[8..]).ToList();
        return new ScriptRun(objects, errors, verbose, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// The dotnet host that runs the tests (the SDK sets DOTNET_HOST_PATH for test runs, else the one on PATH),
    /// checked to be one uid 65534 may run: a host under /root (a dotnet-install into the home) is not, and a
    /// clear failure beats a test that blames the module.
    /// </summary>
    private static string DotnetHost()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path
            : (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':')
                .Select(dir => Path.Combine(dir, "dotnet")).FirstOrDefault(File.Exists) ?? "dotnet";
        if (!OperatingSystem.IsWindows() && File.Exists(host))
        {
            var real = new FileInfo(host).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(host);
            for (var dir = Path.GetDirectoryName(real); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
            {
                if ((File.GetUnixFileMode(dir) & UnixFileMode.OtherExecute) == 0)
                {
                    throw new InvalidOperationException(
                        $"uid {Nobody} cannot run the dotnet host {real}: {dir} is not searchable by others. Install the SDK " +
                        "where every user can run it (e.g. /usr/share/dotnet) for the unprivileged tests.");
                }
            }
        }
        return host;
    }

    private static string StageBinaries()
    {
        var root = Path.Combine(Path.GetTempPath(), $"icmptools-oop-{Environment.ProcessId}-{Random.Shared.Next(0x10000):x4}");
        Copy(AppContext.BaseDirectory, Path.Combine(root, "bin"));
        Copy(Path.GetDirectoryName(PowerShellSession.ModuleManifest)!, Path.Combine(root, "IcmpTools"));
        var home = Directory.CreateDirectory(Path.Combine(root, "home"));
        if (!OperatingSystem.IsWindows())
        {
            home.UnixFileMode = (UnixFileMode)0x1FF; // 0777: the unprivileged run writes its PowerShell caches here
            File.SetUnixFileMode(root, (UnixFileMode)0x1ED); // 0755
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp directory is harmless; the next run stages its own.
            }
        };
        return root;
    }

    private static void Copy(string from, string to)
    {
        var target = Directory.CreateDirectory(to);
        if (!OperatingSystem.IsWindows())
        {
            target.UnixFileMode = (UnixFileMode)0x1ED;
        }
        foreach (var file in Directory.EnumerateFiles(from))
        {
            var copy = Path.Combine(to, Path.GetFileName(file));
            File.Copy(file, copy, overwrite: true);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(copy, (UnixFileMode)0x1A4); // 0644
            }
        }
        foreach (var dir in Directory.EnumerateDirectories(from))
        {
            if (Path.GetFileName(dir) is "TestResults")
            {
                continue;
            }
            Copy(dir, Path.Combine(to, Path.GetFileName(dir)));
        }
    }
}
