using System.Diagnostics;
using System.Runtime.ExceptionServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.TestSupport;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// The trace by name opens its socket in the caller's network namespace. The test's own namespace (h14e-…,
/// removed also on failure) has its loopback down, so 127.0.0.1 answers only from the root namespace.
/// </summary>
public sealed class NamespaceTraceTests
{
    private static void Ip(params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start ip.");
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)} failed: {stderr.Trim()}");
        }
    }

    private static T InNamespace<T>(string name, Func<T> action)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (SafeFileHandle handle = File.OpenHandle($"/run/netns/{name}", FileMode.Open, FileAccess.Read))
                {
                    if (NetLabNative.SetNs(handle, NetLabNative.CloneNewNet) != 0)
                    {
                        throw new InvalidOperationException($"setns into {name} failed.");
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

    [SkippableFact]
    public void ATraceByNameOpensItsSocketInTheCallersNamespace()
    {
        // Issue 14 (8): the socket was opened after the name lookup's await, on a pool thread of the root namespace.
        LabRequirement.RequireRoot();
        var name = $"h14e-{Environment.ProcessId:x}-{Random.Shared.Next(0x10000):x4}";
        Ip("netns", "add", name);
        try
        {
            var hops = InNamespace(name, () =>
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
        finally
        {
            Ip("netns", "del", name);
        }
    }
}
