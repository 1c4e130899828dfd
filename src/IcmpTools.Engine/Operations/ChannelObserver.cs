using System.Threading.Channels;
using IcmpTools.Engine.Probing;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// Hands outcomes from the receive thread to one consumer through a channel; counts duplicates. A probe in
/// Collect mode (broadcast) hands each answer as it comes, then its end (<see cref="Outcome.Final"/>).
/// </summary>
internal sealed class ChannelObserver : IProbeObserver
{
    private readonly Channel<Outcome> _channel = Channel.CreateUnbounded<Outcome>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private int _duplicates;

    /// <param name="Final">The probe's end: its only answer, its timeout, or (Collect mode) the close of its window.</param>
    public readonly record struct Outcome(ProbeResult Result, bool Final);

    public ChannelReader<Outcome> Reader => _channel.Reader;

    public int Duplicates => Volatile.Read(ref _duplicates);

    public void OnProbeCompleted(in ProbeResult result) => _channel.Writer.TryWrite(new Outcome(result, Final: true));

    public void OnAnswer(in ProbeResult result) => _channel.Writer.TryWrite(new Outcome(result, Final: false));

    public void OnDuplicate(in ProbeResult result) => Interlocked.Increment(ref _duplicates);
}
