using System.Net;
using System.Runtime.ExceptionServices;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Probing;

/// <summary>How the scheduler's loop ends.</summary>
public sealed class ProbeSchedulerTests
{
    /// <summary>
    /// A stop is how most runs end (an operation disposes its scheduler once its answer is in), and it threw two or three
    /// OperationCanceledExceptions inside the engine each time: the costliest part of a path MTU search's first call.
    /// </summary>
    [Fact]
    public async Task DisposingASchedulerWithNothingToDoThrowsNothingInsideIt()
    {
        using var watch = new CancellationWatch();
        var scheduler = new ProbeScheduler(TimeProvider.System, 0, null, _ => { });

        await scheduler.DisposeAsync();

        Assert.Empty(watch.Thrown);
    }

    [Fact]
    public async Task DisposingASchedulerWaitingForAProbeDueLaterThrowsNothingInsideIt()
    {
        using var watch = new CancellationWatch();
        var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);
        var scheduler = new ProbeScheduler(fake.Clock, 0, null, _ => { });
        var spec = new ProbeSpec { Destination = IpKey.FromAddress(IPAddress.Parse("192.0.2.1")), Identifier = 1, Sequence = 1, TimeoutTicks = 1 };
        scheduler.Enqueue(prober, in spec, new NoObserver(), fake.Clock.GetTimestamp() + fake.Clock.TimestampFrequency * 3600);

        await scheduler.DisposeAsync();

        Assert.Empty(watch.Thrown);
        Assert.Empty(fake.Sent);
    }

    private sealed class NoObserver : IProbeObserver
    {
        public void OnProbeCompleted(in ProbeResult result)
        {
        }

        public void OnDuplicate(in ProbeResult result)
        {
        }
    }

    /// <summary>Cancellation exceptions thrown in this test's own flow (the scheduler's loop inherits it), as they are thrown.</summary>
    private sealed class CancellationWatch : IDisposable
    {
        private static readonly AsyncLocal<CancellationWatch?> Current = new();
        private readonly List<string> _thrown = [];

        public CancellationWatch()
        {
            Current.Value = this;
            AppDomain.CurrentDomain.FirstChanceException += OnThrown;
        }

        public List<string> Thrown
        {
            get
            {
                lock (_thrown)
                {
                    return [.. _thrown];
                }
            }
        }

        private void OnThrown(object? sender, FirstChanceExceptionEventArgs e)
        {
            if (Current.Value == this && e.Exception is OperationCanceledException)
            {
                lock (_thrown)
                {
                    _thrown.Add(e.Exception.ToString());
                }
            }
        }

        public void Dispose() => AppDomain.CurrentDomain.FirstChanceException -= OnThrown;
    }
}
