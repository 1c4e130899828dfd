using System.Threading.Channels;
using IcmpTools.Engine.Probing;

namespace IcmpTools.Engine.Operations;

/// <summary>Hands outcomes from the receive thread to one consumer through a channel; counts duplicates.</summary>
internal sealed class ChannelObserver : IProbeObserver
{
    private readonly Channel<ProbeResult> _channel = Channel.CreateUnbounded<ProbeResult>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private int _duplicates;

    public ChannelReader<ProbeResult> Reader => _channel.Reader;

    public int Duplicates => Volatile.Read(ref _duplicates);

    public void OnProbeCompleted(in ProbeResult result) => _channel.Writer.TryWrite(result);

    public void OnDuplicate(in ProbeResult result) => Interlocked.Increment(ref _duplicates);
}
