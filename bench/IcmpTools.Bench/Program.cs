using System.Buffers.Binary;
using System.Collections;
using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using Microsoft.Win32.SafeHandles;

namespace IcmpTools.Bench;

/// <summary>
/// IcmpTools benchmarks. Each mode prints one "RESULT {json}" line per measured run on stdout
/// (bench/run.sh collects them); diagnostics go to stderr.
/// </summary>
public static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Main(string[] args)
    {
        var startedAt = Process.GetCurrentProcess().StartTime.ToUniversalTime();
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: IcmpTools.Bench sweep-ps|sweep-engine|sweep-rtt|loop|rtt|trace|startup [--netns NS] [--target T] [--repeat N] [--count N] [--interval S] [--module PATH] [--throttle N|default] [--timeout S] [--rate N] [--alive 1] [--collect 0] [--out FILE]");
            return 2;
        }
        var opts = ParseOptions(args);
        string mode = args[0];
        string? netns = opts.GetValueOrDefault("netns");
        int repeat = int.Parse(opts.GetValueOrDefault("repeat", "1"), Inv);
        string target = opts.GetValueOrDefault("target", "198.19.0.0/16");
        string module = opts.GetValueOrDefault("module", FindModule());
        // "default": leave -ThrottleLimit / MultiPingOptions.ThrottleLimit at the product's default.
        string throttleText = opts.GetValueOrDefault("throttle", "65536");
        throttle = throttleText == "default" ? null : int.Parse(throttleText, Inv);
        timeoutSeconds = double.Parse(opts.GetValueOrDefault("timeout", "1"), Inv);
        aliveOnly = opts.GetValueOrDefault("alive", "0") == "1";
        collectLine = opts.GetValueOrDefault("collect", "1") != "0";
        try
        {
            switch (mode)
            {
                case "sweep-ps":
                    InNamespace(netns, () => SweepPs(module, target, repeat, opts.GetValueOrDefault("warmup", "198.19.1.0/24")));
                    break;
                case "sweep-engine":
                    InNamespace(netns, () => SweepEngine(target, repeat));
                    break;
                case "sweep-rtt":
                    InNamespace(netns, () => SweepRtt(target, repeat, int.Parse(opts.GetValueOrDefault("rate", "0"), Inv),
                        opts.GetValueOrDefault("out")));
                    break;
                case "loop":
                    InNamespace(netns, () => Loop(target, repeat));
                    break;
                case "rtt":
                    InNamespace(netns, () => Rtt(target, repeat,
                        int.Parse(opts.GetValueOrDefault("count", "200"), Inv),
                        double.Parse(opts.GetValueOrDefault("interval", "0.01"), Inv)));
                    break;
                case "trace":
                    InNamespace(netns, () => TraceBench.Run(target, repeat, opts));
                    break;
                case "startup":
                    InNamespace(netns, () => Startup(module, startedAt));
                    break;
                default:
                    Console.Error.WriteLine($"unknown mode {mode}");
                    return 2;
            }
        }
        catch (Exception e) when (e is InvalidOperationException or RuntimeException or SocketException or IOException)
        {
            Console.Error.WriteLine($"bench {mode} failed: {e}");
            return 1;
        }
        return 0;
    }

    /// <summary>Hosts in flight for the sweep modes (--throttle; the cmdlet's -ThrottleLimit); null: the product's default.</summary>
    private static int? throttle = 65536;

    /// <summary>Per-probe timeout of the sweep modes (--timeout; the cmdlet's -TimeoutSeconds).</summary>
    private static double timeoutSeconds = 1;

    /// <summary>--alive 1: the sweep modes yield only the hosts that answered (the cmdlet's -Alive, fping -a).</summary>
    private static bool aliveOnly;

    /// <summary>--collect 0: sweep-ps skips the `$r = ...; Where-Object` line, so its first /16 is the cmdlet alone (the first sweep of the session).</summary>
    private static bool collectLine = true;

    private static MultiPingOptions SweepOptions(int count = 1, int rate = 0)
    {
        var options = new MultiPingOptions { Count = count, Timeout = TimeSpan.FromSeconds(timeoutSeconds), Rate = rate,
            Emit = aliveOnly ? SweepEmit.Alive : SweepEmit.All };
        return throttle is { } limit ? options with { ThrottleLimit = limit } : options;
    }

    private static Dictionary<string, string> ParseOptions(string[] args)
    {
        var opts = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
            {
                opts[args[i][2..]] = args[++i];
            }
            else
            {
                throw new ArgumentException($"bad argument {args[i]}");
            }
        }
        return opts;
    }

    private static string FindModule()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string psd1 = Path.Combine(dir.FullName, "out", "IcmpTools", "IcmpTools.psd1");
            if (File.Exists(psd1))
            {
                return psd1;
            }
        }
        return "out/IcmpTools/IcmpTools.psd1";
    }

    // ---------------------------------------------------------------- namespaces and measurements

    /// <summary>Runs <paramref name="action"/> on a fresh thread that has entered /run/netns/NS (or stays put when null).</summary>
    private static void InNamespace(string? netns, Action action)
    {
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                if (netns is not null)
                {
                    string path = $"/run/netns/{netns}";
                    using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
                    if (NativeMethods.SetNs(handle, NativeMethods.CloneNewNet) != 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        throw new InvalidOperationException($"setns({path}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
                    }
                }
#pragma warning disable CA1031 // captured and rethrown on the caller's thread
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
                return;
            }
            try
            {
                action();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
#pragma warning restore CA1031
        }, 16 * 1024 * 1024)
        {
            Name = $"netns {netns ?? "root"}",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
    }

    private static string ThreadNamespace() => new FileInfo("/proc/thread-self/ns/net").LinkTarget ?? "?";

    private static string NamespaceOf(string path) => new FileInfo(path).LinkTarget ?? "?";

    private static double CpuMs() => Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;

    /// <summary>VmHWM (peak RSS) in kB.</summary>
    private static long PeakRssKb()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], Inv);
            }
        }
        return -1;
    }

    /// <summary>Resets the peak-RSS counter (writing 5 to clear_refs, Linux 4.0+), so each run reports its own peak.</summary>
    private static void ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void Emit(string mode, int run, params (string Key, object Value)[] fields)
    {
        var parts = new List<string> { $"\"mode\":\"{mode}\"", $"\"run\":{run}" };
        foreach (var (key, value) in fields)
        {
            string v = value switch
            {
                double d => d.ToString("0.###", Inv),
                int or long => Convert.ToString(value, Inv)!,
                _ => "\"" + Convert.ToString(value, Inv)!.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
            };
            parts.Add($"\"{key}\":{v}");
        }
        Console.Out.WriteLine("RESULT {" + string.Join(',', parts) + "}");
        Console.Out.Flush();
    }

    // ---------------------------------------------------------------- PowerShell

    private static Runspace OpenRunspace()
    {
        var iss = InitialSessionState.CreateDefault2();
        var runspace = RunspaceFactory.CreateRunspace(iss);
        // The pipeline runs on this very thread, so the cmdlet's sockets open in this thread's namespace.
        runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
        runspace.Open();
        return runspace;
    }

    private static Collection<PSObject> Run(Runspace runspace, string script, IDictionary? parameters = null)
    {
        using var ps = PowerShell.Create(runspace);
        ps.AddScript(script);
        if (parameters is not null)
        {
            ps.AddParameters(parameters);
        }
        var result = ps.Invoke();
        if (ps.HadErrors)
        {
            foreach (var error in ps.Streams.Error)
            {
                Console.Error.WriteLine($"ps error: {error}");
            }
        }
        return result;
    }

    private static void SweepPs(string module, string target, int repeat, string warmup)
    {
        using var runspace = OpenRunspace();
        Run(runspace, "param($m) Import-Module $m -ErrorAction Stop", new Hashtable { ["m"] = module });

        // Verify that the pipeline thread is the namespace thread: the cmdlet's sockets open there.
        string psNs = Run(runspace, "[System.IO.FileInfo]::new('/proc/thread-self/ns/net').LinkTarget")[0]?.ToString() ?? "?";
        string myNs = ThreadNamespace();
        string rootNs = NamespaceOf("/proc/self/ns/net");
        Console.Error.WriteLine($"sweep-ps: pipeline thread netns {psNs}, bench thread {myNs}, main thread {rootNs}");
        if (psNs != myNs)
        {
            throw new InvalidOperationException($"runspace pipeline thread is in {psNs}, not {myNs}");
        }

        string limit = throttle is { } t ? " -ThrottleLimit " + t.ToString(Inv) : "";
        string Sweep = "param($t) $r = Invoke-IcmpMultiPing -TargetName $t -Count 1 -TimeoutSeconds " + timeoutSeconds.ToString(Inv)
            + " -Rate 0" + limit + (aliveOnly ? " -Alive" : "") + "; $r.Count; ($r | Where-Object IsAlive).Count";
        Console.Error.WriteLine($"sweep-ps: {Sweep}");
        var warm = Run(runspace, Sweep, new Hashtable { ["t"] = warmup });
        Console.Error.WriteLine($"sweep-ps warm-up {warmup}: {string.Join(' ', warm)}");

        for (int run = 1; run <= (collectLine ? repeat : 0); run++)
        {
            GC.Collect();
            ResetPeakRss();
            double cpu0 = CpuMs();
            long t0 = Stopwatch.GetTimestamp();
            var output = Run(runspace, Sweep, new Hashtable { ["t"] = target });
            double wall = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            double cpu = CpuMs() - cpu0;
            long total = output.Count > 0 ? Convert.ToInt64(output[0].BaseObject, Inv) : -1;
            long alive = output.Count > 1 ? Convert.ToInt64(output[1].BaseObject, Inv) : -1;
            Emit("sweep-ps", run, ("wall_ms", wall), ("cpu_ms", cpu), ("hosts", total), ("alive", alive),
                ("rss_kb", PeakRssKb()), ("managed_kb_after", GC.GetTotalMemory(true) / 1024), ("netns", psNs));
        }

        // Secondary figure: the cmdlet alone, from the call to its last object (no Where-Object), counted in C#.
        // Run 0 is a warm-up of this very call shape on the warm-up block (not reported): the script line above
        // binds the cmdlet another way, and the first call through this API (with -Verbose) compiled PowerShell's
        // code for it inside the measured /16.
        for (int run = collectLine ? 1 : 0; run <= repeat; run++)
        {
            string block = run == 0 ? warmup : target;
            double settleMs = run > 0 && !collectLine ? SettleJit() : 0;
            GC.Collect();
            ResetPeakRss();
            using var ps = PowerShell.Create(runspace);
            ps.AddCommand("Invoke-IcmpMultiPing").AddParameter("TargetName", block).AddParameter("Count", 1)
                .AddParameter("TimeoutSeconds", timeoutSeconds).AddParameter("Rate", 0);
            if (aliveOnly)
            {
                ps.AddParameter("Alive");
            }
            if (throttle is { } limitValue)
            {
                ps.AddParameter("ThrottleLimit", limitValue);
            }
            // Phases of the call, from the cmdlet's own -Verbose lines: sockets open, sweep started, sweep done
            // (the sweep's end: its last host finished); the rest of the call is closing the sockets.
            ps.AddParameter("Verbose");
            var phases = new List<(string Name, long At)>();
            ps.Streams.Verbose.DataAdded += (_, e) =>
            {
                string text = ps.Streams.Verbose[e.Index].Message;
                string? name = text.StartsWith("ICMP sockets:", StringComparison.Ordinal) ? "open_ms"
                    : text.StartsWith("Sweeping from", StringComparison.Ordinal) ? "begin_ms"
                    : text.StartsWith("Swept ", StringComparison.Ordinal) ? "swept_ms" : null;
                if (name is not null)
                {
                    phases.Add((name, Stopwatch.GetTimestamp()));
                }
            };
            var output = new PSDataCollection<PSObject>();
            long last = 0;
            long alive = 0;
            output.DataAdded += (_, e) =>
            {
                last = Stopwatch.GetTimestamp();
                if (output[e.Index].BaseObject is Host { IsAlive: true })
                {
                    alive++;
                }
            };
            double cpu0 = CpuMs();
            int jitted0 = (int)System.Runtime.JitInfo.GetCompiledMethodCount();
            TimeSpan jitTime0 = System.Runtime.JitInfo.GetCompilationTime();
            long mapLines0 = PerfMapLines();
            long t0 = Stopwatch.GetTimestamp();
            ps.Invoke(null, output);
            double done = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            // The JIT's share of the call: methods compiled (any tier) and time spent compiling, on all threads.
            long jitted = System.Runtime.JitInfo.GetCompiledMethodCount() - jitted0;
            double jitMs = (System.Runtime.JitInfo.GetCompilationTime() - jitTime0).TotalMilliseconds;
            double cpu = CpuMs() - cpu0;
            double toLast = last == 0 ? -1 : Stopwatch.GetElapsedTime(t0, last).TotalMilliseconds;
            var fields = new List<(string Key, object Value)> { ("wall_ms", toLast), ("invoke_ms", done), ("cpu_ms", cpu), ("hosts", (long)output.Count),
                ("alive", alive), ("rss_kb", PeakRssKb()), ("managed_kb_after", GC.GetTotalMemory(true) / 1024) };
            fields.AddRange(phases.Select(p => (p.Name, (object)Stopwatch.GetElapsedTime(t0, p.At).TotalMilliseconds)));
            // The call's start on CLOCK_MONOTONIC (Stopwatch's clock on Linux), so that bench/profile.sh can cut
            // a `perf record -k CLOCK_MONOTONIC` profile down to the call.
            fields.Add(("t0_monotonic_ns", (long)(t0 * (1e9 / Stopwatch.Frequency))));
            fields.Add(("jit_settle_ms", settleMs));
            fields.Add(("jit_methods", jitted));
            fields.Add(("jit_ms", jitMs));
            if (mapLines0 >= 0)
            {
                // With DOTNET_PerfMapEnabled: the lines of /tmp/perf-PID.map written during the call (what was compiled, at which tier).
                fields.Add(("perfmap_lines", $"{mapLines0}-{PerfMapLines()}"));
                fields.Add(("pid", (long)Environment.ProcessId));
            }
            if (run > 0)
            {
                Emit("sweep-ps-cmdlet", run, [.. fields]);
            }
        }
    }

    /// <summary>
    /// Waits until the JIT has compiled nothing for a second (at most 15 s) and returns how long that took. Tiered
    /// compilation recompiles a fresh process's hot code (the runspace, the module's import, the warm-up) on a
    /// background thread some time after it ran; at a prompt that is over before anyone has typed the next command,
    /// while a bench that goes straight on measures it inside its first call (400-600 methods of PowerShell and the
    /// base library, none of them the sweep's). Methods compiled during the call are still reported (jit_methods).
    /// </summary>
    private static double SettleJit()
    {
        long start = Stopwatch.GetTimestamp();
        long count = System.Runtime.JitInfo.GetCompiledMethodCount();
        long quietSince = start;
        while (Stopwatch.GetElapsedTime(quietSince) < TimeSpan.FromSeconds(1) && Stopwatch.GetElapsedTime(start) < TimeSpan.FromSeconds(15))
        {
            Thread.Sleep(50);
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != count)
            {
                count = now;
                quietSince = Stopwatch.GetTimestamp();
            }
        }
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>Lines in this process's perf map (DOTNET_PerfMapEnabled), or -1 without one.</summary>
    private static long PerfMapLines()
    {
        string path = $"/tmp/perf-{Environment.ProcessId}.map";
        return File.Exists(path) ? File.ReadLines(path).LongCount() : -1;
    }

    private static void Startup(string module, DateTime startedAt)
    {
        double sinceStart = (DateTime.UtcNow - startedAt).TotalMilliseconds;
        long t0 = Stopwatch.GetTimestamp();
        using var runspace = OpenRunspace();
        double runspaceMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        long t1 = Stopwatch.GetTimestamp();
        Run(runspace, "param($m) Import-Module $m -ErrorAction Stop", new Hashtable { ["m"] = module });
        double importMs = Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
        long t2 = Stopwatch.GetTimestamp();
        var reply = Run(runspace, "Test-IcmpEcho 127.0.0.1 -Count 1");
        double firstMs = Stopwatch.GetElapsedTime(t2).TotalMilliseconds;
        double total = (DateTime.UtcNow - startedAt).TotalMilliseconds;
        string status = reply.Count > 0 ? reply[0].Properties["Status"]?.Value?.ToString() ?? "?" : "none";
        Emit("startup", 1, ("process_to_main_ms", sinceStart), ("runspace_ms", runspaceMs), ("import_ms", importMs),
            ("first_reply_ms", firstMs), ("import_plus_first_ms", importMs + firstMs), ("process_total_ms", total),
            ("status", status), ("rss_kb", PeakRssKb()));
    }

    // ---------------------------------------------------------------- engine

    private static async IAsyncEnumerable<string> One(string target)
    {
        await Task.Yield();
        yield return target;
    }

    private static void SweepEngine(string target, int repeat)
    {
        using var lease = ProberPool.Acquire(IcmpFamily.IPv4);
        var prober = lease.Prober;
        var options = SweepOptions();
        // Warm-up: JIT and socket.
        RunSweep(prober, options, target.StartsWith("127.", StringComparison.Ordinal) ? "127.2.1.0/24" : "198.19.1.0/24");
        for (int run = 1; run <= repeat; run++)
        {
            GC.Collect();
            ResetPeakRss();
            double cpu0 = CpuMs();
            long t0 = Stopwatch.GetTimestamp();
            var (hosts, alive, errors, missed, rate, span) = RunSweep(prober, options, target);
            long t1 = Stopwatch.GetTimestamp();
            double wall = Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
            double cpu = CpuMs() - cpu0;
            // Until the first send, sending, and after the last send (the sweep ought to end one timeout after it).
            Emit("sweep-engine", run, ("wall_ms", wall), ("start_ms", Stopwatch.GetElapsedTime(t0, span.First).TotalMilliseconds),
                ("send_ms", Stopwatch.GetElapsedTime(span.First, span.Last).TotalMilliseconds),
                ("tail_ms", Stopwatch.GetElapsedTime(span.Last, t1).TotalMilliseconds), ("cpu_ms", cpu), ("hosts", hosts), ("alive", alive), ("errors", errors),
                ("probes_per_s", hosts / (wall / 1000)), ("engine_probe_rate", rate), ("rss_kb", PeakRssKb()), ("managed_kb_after", GC.GetTotalMemory(true) / 1024), ("missed_sample", missed));
        }
        Console.Error.WriteLine($"sweep-engine: send path: {prober.SendPathSummary ?? "raw socket only"}");
        // Diagnostics: how much of the managed heap the open prober still holds once every sweep is over.
        long held = GC.GetTotalMemory(true) / 1024;
        lease.Dispose();
        long released = GC.GetTotalMemory(true) / 1024;
        Console.Error.WriteLine($"sweep-engine: managed heap {held} kB with the prober open, {released} kB after closing it; "
            + $"{SweepRefs.Count(r => r.IsAlive)} of {SweepRefs.Count} finished MultiPing instances still reachable");
    }

    private static readonly List<WeakReference> SweepRefs = [];

    private static (long Hosts, long Alive, long Errors, string Missed, double Rate, (long First, long Last) Span) RunSweep(Prober prober, MultiPingOptions options, string target)
    {
        using var sweep = new MultiPing(_ => prober, options);
        SweepRefs.Add(new WeakReference(sweep));
        long hosts = 0, alive = 0, errors = 0;
        var missed = new List<string>();
        double rate = 0;
        (long, long) span = default;
        Task.Run(async () =>
        {
            await foreach (var result in sweep.RunAsync(One(target)).ConfigureAwait(false))
            {
                if (result.Host is { } host)
                {
                    hosts++;
                    if (host.IsAlive)
                    {
                        alive++;
                    }
                    else if (missed.Count < 10)
                    {
                        missed.Add($"{host.Address}:{host.Status}");
                    }
                }
                else
                {
                    errors++;
                    Console.Error.WriteLine($"sweep error {result.Target}: {result.Error?.Message}");
                }
            }
            rate = sweep.ProbeRate;
            span = sweep.SendSpan;
        }).GetAwaiter().GetResult();
        return (hosts, alive, errors, string.Join(' ', missed), rate, span);
    }

    /// <summary>
    /// Sweep RTT accuracy: one probe per host of a block (the engine's sweep, as the cmdlet runs it), and the
    /// per-host RTTs' median and spread, to set beside fping -C 1 on the same block. --out writes "address rtt" lines.
    /// </summary>
    private static void SweepRtt(string target, int repeat, int rate, string? outFile)
    {
        using var lease = ProberPool.Acquire(IcmpFamily.IPv4);
        var prober = lease.Prober;
        var options = SweepOptions(rate: rate);
        RunSweep(prober, options, target);
        var lines = new List<string>();
        for (int run = 1; run <= repeat; run++)
        {
            using var sweep = new MultiPing(_ => prober, options);
            var rtts = new List<double>();
            Task.Run(async () =>
            {
                await foreach (var result in sweep.RunAsync(One(target)).ConfigureAwait(false))
                {
                    if (result.Host is { IsAlive: true } host && host.Rtts.Count > 0)
                    {
                        rtts.Add(host.Rtts[0]);
                        lines.Add(FormattableString.Invariant($"{run} {host.Address} {host.Rtts[0]:0.####}"));
                    }
                }
            }).GetAwaiter().GetResult();
            rtts.Sort();
            Emit("sweep-rtt", run, ("median_ms", Quantile(rtts, 0.5)), ("p10_ms", Quantile(rtts, 0.1)), ("p90_ms", Quantile(rtts, 0.9)),
                ("max_ms", rtts.Count > 0 ? rtts[^1] : double.NaN), ("alive", (long)rtts.Count), ("rate", (long)rate));
        }
        if (outFile is not null)
        {
            File.WriteAllLines(outFile, lines);
        }
    }

    private static double Quantile(List<double> sorted, double q)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }
        double pos = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * (pos - lo));
    }

    private static void Rtt(string target, int repeat, int count, double interval)
    {
        var address = IPAddress.Parse(target);
        using var lease = ProberPool.Acquire(address.AddressFamily == AddressFamily.InterNetworkV6 ? IcmpFamily.IPv6 : IcmpFamily.IPv4);
        var prober = lease.Prober;
        Ping.PingAsync(prober, address, null, new PingOptions { Count = 3, Interval = TimeSpan.FromSeconds(interval), Timeout = TimeSpan.FromSeconds(1) })
            .GetAwaiter().GetResult();
        for (int run = 1; run <= repeat; run++)
        {
            var options = new PingOptions { Count = count, Interval = TimeSpan.FromSeconds(interval), Timeout = TimeSpan.FromSeconds(1) };
            long t0 = Stopwatch.GetTimestamp();
            var host = Ping.PingAsync(prober, address, null, options).GetAwaiter().GetResult();
            double wall = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            var rtts = host.Rtts.OrderBy(x => x).ToArray();
            double median = rtts.Length == 0 ? double.NaN
                : rtts.Length % 2 == 1 ? rtts[rtts.Length / 2] : (rtts[(rtts.Length / 2) - 1] + rtts[rtts.Length / 2]) / 2;
            Emit("rtt", run, ("median_ms", median), ("avg_ms", host.AvgRtt ?? double.NaN), ("min_ms", host.MinRtt ?? double.NaN), ("max_ms", host.MaxRtt ?? double.NaN),
                ("received", (long)host.PacketsReceived), ("sent", (long)host.PacketsSent), ("wall_ms", wall));
        }
    }

    // ---------------------------------------------------------------- the practical limit: a bare send/receive loop

    private static (uint First, int Count) Block(string cidr)
    {
        var parts = cidr.Split('/');
        uint net = BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(parts[0]).GetAddressBytes());
        int prefix = int.Parse(parts[1], Inv);
        uint size = prefix == 32 ? 1u : 1u << (32 - prefix);
        net &= prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
        // Like the engine and fping: no network and broadcast addresses for blocks of 4+.
        return size >= 4 ? (net + 1, (int)size - 2) : (net, (int)size);
    }

    private static void Loop(string target, int repeat)
    {
        var (first, count) = Block(target);
        for (int run = 1; run <= repeat; run++)
        {
            ResetPeakRss();
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 33 /* SO_RCVBUFFORCE */, BitConverter.GetBytes(64 * 1024 * 1024));
            socket.SetRawSocketOption(1, 32 /* SO_SNDBUFFORCE */, BitConverter.GetBytes(16 * 1024 * 1024));
            socket.ReceiveTimeout = 200;
            socket.Bind(new IPEndPoint(IPAddress.Any, 0));
            ushort id = (ushort)Random.Shared.Next(1, 65536);
            var seen = new BitArray(count);
            int distinct = 0, others = 0;
            long lastReply = 0;
            double cpu0 = CpuMs();
            long t0 = Stopwatch.GetTimestamp();
            long deadline = t0 + (3 * Stopwatch.Frequency);
            var receiver = new Thread(() =>
            {
                var buffer = new byte[2048];
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                while (distinct < count && Stopwatch.GetTimestamp() < deadline)
                {
                    int n;
                    try
                    {
                        n = socket.ReceiveFrom(buffer, ref from);
                    }
                    catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                    {
                        continue;
                    }
                    int ihl = (buffer[0] & 0x0f) * 4;
                    if (n < ihl + 8 || buffer[ihl] != 0 || BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(ihl + 4)) != id)
                    {
                        others++;
                        continue;
                    }
                    uint src = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(12));
                    long index = (long)src - first;
                    if (index >= 0 && index < count && !seen[(int)index])
                    {
                        seen[(int)index] = true;
                        distinct++;
                        lastReply = Stopwatch.GetTimestamp();
                    }
                }
            })
            { Name = "loop receiver" };
            receiver.Start();

            var packet = new byte[64];
            packet[0] = 8; // echo request
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), id);
            var addrBytes = new byte[4];
            int sendErrors = 0;
            for (int i = 0; i < count; i++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), (ushort)i);
                packet[2] = 0;
                packet[3] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), InternetChecksum.Compute(packet));
                BinaryPrimitives.WriteUInt32BigEndian(addrBytes, first + (uint)i);
                try
                {
                    socket.SendTo(packet, new IPEndPoint(new IPAddress(addrBytes), 0));
                }
                catch (SocketException)
                {
                    sendErrors++;
                }
            }
            double sendMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            receiver.Join();
            double wall = (lastReply == 0 ? Stopwatch.GetElapsedTime(t0) : Stopwatch.GetElapsedTime(t0, lastReply)).TotalMilliseconds;
            double cpu = CpuMs() - cpu0;
            Emit("loop", run, ("wall_ms", wall), ("send_ms", sendMs), ("cpu_ms", cpu), ("hosts", (long)count), ("alive", (long)distinct),
                ("send_errors", (long)sendErrors), ("other_packets", (long)others), ("probes_per_s", count / (wall / 1000)), ("rss_kb", PeakRssKb()));
        }
    }

}

internal static partial class NativeMethods
{
    internal const int CloneNewNet = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(SafeFileHandle fd, int nstype);
}
