using System.Diagnostics;
using System.Runtime.ExceptionServices;
using IcmpTools.TestSupport;
using Microsoft.Win32.SafeHandles;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// One bare network namespace of the test's own (h14e-…, unique, its loopback down until told otherwise),
/// deleted on Dispose, also when the test fails: for what needs a namespace but no routed lab.
/// </summary>
internal sealed class OwnNamespace : IDisposable
{
    public OwnNamespace()
    {
        Name = $"h14e-{Environment.ProcessId:x}-{Random.Shared.Next(0x10000):x4}";
        Run("ip", "netns", "add", Name);
    }

    public string Name { get; }

    /// <summary>Runs a command inside the namespace (ip netns exec).</summary>
    public void Exec(params string[] command) => Run(["ip", "netns", "exec", Name, .. command]);

    /// <summary>Runs <paramref name="action"/> on a new thread that entered the namespace; its sockets stay there.</summary>
    public T Invoke<T>(Func<T> action)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (SafeFileHandle handle = File.OpenHandle($"/run/netns/{Name}", FileMode.Open, FileAccess.Read))
                {
                    if (NetLabNative.SetNs(handle, NetLabNative.CloneNewNet) != 0)
                    {
                        throw new InvalidOperationException($"setns into {Name} failed.");
                    }
                }
                result = action();
            }
#pragma warning disable CA1031 // Rethrown on the test's thread.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        { IsBackground = true };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    public void Dispose() => Run("ip", "netns", "del", Name);

    private static void Run(params string[] args)
    {
        var start = new ProcessStartInfo(args[0]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {args[0]}.");
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', args)} failed: {stderr.Result.Trim()}");
        }
    }
}
