using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace IcmpTools.TestSupport;

/// <summary>
/// One network-namespace lab (tests/netlab/netlab.sh): client c, routers r1..r3, target t and
/// r2b, the diamond's second router beside r2,
/// with the address plan and scenarios of tests/netlab/README.md. Each instance has its own
/// namespaces, so tests that each take a lab can run in parallel.
/// </summary>
public sealed class NetLab : IDisposable
{
    private static readonly TimeSpan UpTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan DownTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ExecTimeout = TimeSpan.FromSeconds(120);
    private static readonly ConcurrentDictionary<string, NetLab> Live = new(StringComparer.Ordinal);
    private static readonly Lazy<string> Script = new(FindScript);
    private static int s_counter;
    private int _disposed;

    static NetLab()
    {
        // Safety net for a test run that ends without disposing its labs (a crash in a
        // fixture, a runner killed by Ctrl+C still raises ProcessExit).
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (NetLab lab in Live.Values)
            {
                lab.Dispose();
            }
        };
    }

    private NetLab(string name) => Name = name;

    private static string LabPrefix => Environment.GetEnvironmentVariable("ICMPTOOLS_LAB_PREFIX") is { Length: > 0 and <= 4 } prefix
        && prefix.All(char.IsAsciiLetterOrDigit) ? prefix : "itl";

    /// <summary>The lab name; the namespaces are <c>Name-c</c>, <c>Name-r1</c> ... <c>Name-t</c>.</summary>
    public string Name { get; }

    /// <summary>Builds a fresh lab with a unique name and waits until every scenario answers.</summary>
    /// <exception cref="InvalidOperationException">netlab.sh failed; the message carries its stderr.</exception>
    public static NetLab Up()
    {
        int counter = Interlocked.Increment(ref s_counter);
        // At most 20 characters: a prefix of up to 4 ("itl", or ICMPTOOLS_LAB_PREFIX so that people sharing a
        // machine can tell their labs apart) + pid (<= 6 hex) + counter + 4 random hex digits.
        string name = string.Create(
            CultureInfo.InvariantCulture,
            $"{LabPrefix}{Environment.ProcessId:x}-{counter:x}-{Random.Shared.Next(0x10000):x4}");
        var lab = new NetLab(name);
        Live[name] = lab;
        ScriptResult result;
        try
        {
            result = RunScript(UpTimeout, "up", name);
        }
        catch
        {
            lab.Dispose();
            throw;
        }

        if (result.ExitCode != 0)
        {
            lab.Dispose();
            throw new InvalidOperationException(
                $"netlab.sh up {name} failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
        }

        return lab;
    }

    /// <summary>Runs <paramref name="action"/> inside the client namespace (see <see cref="InNamespace{T}"/>).</summary>
    public T InClient<T>(Func<T> action) => InNamespace("c", action);

    /// <summary>
    /// Runs <paramref name="action"/> on a new thread that has entered the network namespace of
    /// <paramref name="node"/> (c, r1, r2, r3, t, r2b), and returns its result or rethrows its exception.
    /// Sockets created by the action belong to that namespace for their whole life, also when
    /// later used from other threads; async code must therefore create its sockets before the
    /// action returns (for example, block on the operation inside the action).
    /// </summary>
    public T InNamespace<T>(string node, Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        string path = NamespacePath(node);
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                EnterNetworkNamespace(path);
                result = action();
            }
#pragma warning disable CA1031 // Any exception belongs to the caller: it is captured and rethrown there.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ExceptionDispatchInfo.Capture(ex);
            }
        })
        {
            IsBackground = true,
            Name = $"netns {Name}-{node}",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    /// <summary>Runs a shell command inside <paramref name="node"/> and returns its stdout.</summary>
    /// <exception cref="InvalidOperationException">The command exited non-zero or timed out.</exception>
    public string Exec(string node, string command)
    {
        ArgumentNullException.ThrowIfNull(command);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        CheckNode(node);
        ScriptResult result = RunScript(ExecTimeout, "exec", Name, node, "sh", "-c", command);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"'{command}' in {Name}-{node} exited {result.ExitCode}: {result.Stderr.Trim()} {result.Stdout.Trim()}");
        }

        return result.Stdout;
    }

    /// <summary>
    /// Makes <paramref name="node"/> send no ICMP errors at all (Time Exceeded, Destination
    /// Unreachable, ...) while <paramref name="silent"/> is true, like a router that filters them.
    /// </summary>
    public void SetSilent(string node, bool silent)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        CheckNode(node);
        ScriptResult result = RunScript(ExecTimeout, "silent", Name, node, silent ? "on" : "off");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"netlab.sh silent {Name} {node} failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
        }
    }

    /// <summary>
    /// Makes <paramref name="node"/> send only a short burst and then about two Time Exceeded
    /// messages a second while <paramref name="limited"/> is true, forwarding everything as before:
    /// a router that rate-limits its ICMP errors.
    /// </summary>
    public void SetRateLimited(string node, bool limited)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        CheckNode(node);
        ScriptResult result = RunScript(ExecTimeout, "ratelimit", Name, node, limited ? "on" : "off");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"netlab.sh ratelimit {Name} {node} failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
        }
    }

    /// <summary>
    /// While <paramref name="sparse"/> is true only every 100th address of the sweep blocks answers
    /// (198.19.0.100, .0.200, ...; 2001:db8:ff::64, ::c8, ...: 655 of 65,534), like a real, mostly empty block.
    /// </summary>
    public void SetSparse(bool sparse)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ScriptResult result = RunScript(ExecTimeout, "sparse", Name, sparse ? "on" : "off");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"netlab.sh sparse {Name} failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
        }
    }

    /// <summary>
    /// While <paramref name="on"/> is true, 198.18.16.1 / 2001:db8:16::1 sit behind a narrow r2 -> r3 link
    /// (1400 IPv4, 1280 IPv6; r2 says so with Fragmentation Needed / Packet Too Big) and 198.18.17.1 /
    /// 2001:db8:17::1 behind an as narrow r3 -> t link whose router says nothing (a PMTU black hole).
    /// Also forgets the path MTUs the client learned, so each test starts from the route's 1500.
    /// </summary>
    public void SetPathMtu(bool on)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ScriptResult result = RunScript(ExecTimeout, "pmtu", Name, on ? "on" : "off");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"netlab.sh pmtu {Name} failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
        }
        ForgetPathMtu();
    }

    /// <summary>
    /// While <paramref name="on"/> is true, r2 answers 198.18.18.1-3 / 2001:db8:18::1-3 as an MPLS router would
    /// (tests/netlab/icmp-ext-responder.py): Time Exceeded with RFC 4884 extensions at TTL 1 (compliant, non-compliant,
    /// bad checksum), echo replies beyond.
    /// </summary>
    public void SetExtensionResponder(bool on)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ScriptResult result = RunScript(ExecTimeout, "ext", Name, on ? "on" : "off");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"netlab.sh ext {Name} failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
        }
    }

    /// <summary>
    /// While <paramref name="on"/> is true, dnsmasq in the target serves Team Cymru style origin TXT records for the
    /// lab's routers on 198.18.4.2 and 2001:db8:4::2 port 53 (the AS plan is in tests/netlab/README.md).
    /// </summary>
    public void SetDns(bool on)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ScriptResult result = RunScript(ExecTimeout, "dns", Name, on ? "on" : "off");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"netlab.sh dns {Name} failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
        }
    }

    /// <summary>Drops the client's cached path MTUs (PMTU exceptions), as if no Fragmentation Needed had arrived yet.</summary>
    public void ForgetPathMtu() => Exec("c", "ip -4 route flush cache && ip -6 route flush cache");

    /// <summary>Deletes the lab's namespaces and stops its helper processes. Never throws.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Live.TryRemove(Name, out _);
        try
        {
            RunScript(DownTimeout, "down", Name);
        }
#pragma warning disable CA1031 // Dispose must not throw; a lab left behind shows in `ip netns list`.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static void CheckNode(string node)
    {
        if (node is not ("c" or "r1" or "r2" or "r3" or "t" or "r2b"))
        {
            throw new ArgumentOutOfRangeException(nameof(node), node, "Expected one of c, r1, r2, r3, t, r2b.");
        }
    }

    private string NamespacePath(string node)
    {
        CheckNode(node);
        string path = $"/run/netns/{Name}-{node}";
        return File.Exists(path) ? path : $"/var/run/netns/{Name}-{node}";
    }

    private static void EnterNetworkNamespace(string path)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        if (NetLabNative.SetNs(handle, NetLabNative.CloneNewNet) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new InvalidOperationException(
                $"setns({path}, CLONE_NEWNET) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
    }

    private static string FindScript()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "IcmpTools.sln"))
                || File.Exists(Path.Combine(dir.FullName, "IcmpTools.slnx")))
            {
                return Path.Combine(dir.FullName, "tests", "netlab", "netlab.sh");
            }
        }

        throw new InvalidOperationException(
            $"No IcmpTools.sln above {AppContext.BaseDirectory}: cannot find tests/netlab/netlab.sh.");
    }

    private static ScriptResult RunScript(TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Script.Value);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)
            ?? throw new InvalidOperationException("Could not start bash.");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException(
                $"netlab.sh {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0} s: {stderr.Result.Trim()}");
        }

        return new ScriptResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    private readonly record struct ScriptResult(int ExitCode, string Stdout, string Stderr);
}

/// <summary>Gate for tests that need the namespace lab.</summary>
public static class LabRequirement
{
    /// <summary>
    /// Returns when the process may build labs (Linux, root). Otherwise skips the test, except
    /// on CI (env CI=true) on Linux, where a lab test that cannot run is a failure, not a skip.
    /// Use in <c>[SkippableFact]</c> tests.
    /// </summary>
    public static void RequireRoot()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new SkipException("The network-namespace lab needs Linux.");
        }

        if (NetLabNative.GetEuid() == 0)
        {
            return;
        }

        const string Reason = "The network-namespace lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(Reason + " CI=true, so the lab tests must run: run them as root.");
        }

        throw new SkipException(Reason);
    }
}

internal static partial class NetLabNative
{
    internal const int CloneNewNet = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(SafeFileHandle fd, int nstype);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEuid();
}
