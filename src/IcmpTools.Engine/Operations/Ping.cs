using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Operations;

/// <summary>Pings one address: a stream of replies as they arrive, or the host's summary at the end.</summary>
public static class Ping
{
    /// <summary>Sequence numbers start at 1, as iputils ping numbers its probes.</summary>
    private const int FirstSequence = 1;

    private const int Eacces = 13;

    /// <summary>
    /// Sends the probes on schedule and yields each probe's outcome (reply, ICMP error or timeout) the moment
    /// it is known. With <see cref="PingOptions.Continuous"/> it runs until cancelled.
    /// </summary>
    public static IAsyncEnumerable<Reply> StreamAsync(Prober prober, IPAddress address, PingOptions options,
        CancellationToken cancellationToken = default) =>
        StreamAsync(prober, address, options, null, cancellationToken);

    /// <summary>Pings and summarises: the host's statistics once every probe has an outcome.</summary>
    public static async Task<Host> PingAsync(Prober prober, IPAddress address, string? name, PingOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Broadcast)
        {
            throw new ArgumentException("A broadcast ping yields one reply per answering host, not one host: use StreamAsync.", nameof(options));
        }
        var tally = new HostTally(options.Count);
        await foreach (var _ in StreamAsync(prober, address, options, tally, cancellationToken).ConfigureAwait(false))
        {
        }
        return tally.Build(address.ToString(), name, TargetResolver.FamilyOf(address), prober.Kind == SocketKind.Raw);
    }

    /// <summary>Resolves <paramref name="target"/>, opens (or shares) the process's socket and pings.</summary>
    public static async Task<Host> PingAsync(string target, PingOptions? options = null, IcmpFamily? family = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new PingOptions();
        var address = await TargetResolver.ResolveAsync(target, family, cancellationToken).ConfigureAwait(false);
        using var lease = ProberPool.Acquire(TargetResolver.FamilyOf(address), options.DontFragment);
        var name = TargetResolver.TryParseLiteral(target, out _) ? null : target;
        return await PingAsync(lease.Prober, address, name, options, cancellationToken).ConfigureAwait(false);
    }

    private static async IAsyncEnumerable<Reply> StreamAsync(Prober prober, IPAddress address, PingOptions options,
        HostTally? tally, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prober);
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var family = TargetResolver.FamilyOf(address);
        if (family != prober.Family)
        {
            throw new ArgumentException($"The address {address} is {family}, but the prober sends {prober.Family}.", nameof(address));
        }
        if (options.Source is { } source)
        {
            SourceAddress.Validate(source, family);
        }

        var destination = address.ToString();
        var observer = new ChannelObserver();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var template = new ProbeSpec
        {
            Destination = IpKey.FromAddress(address),
            Identifier = (ushort)(options.Identifier ?? Random.Shared.Next(1, ushort.MaxValue + 1)),
            PayloadSize = options.PayloadSize,
            ExplicitPayload = options.Payload?.ToArray(),
            Ttl = options.Ttl,
            TrafficClass = options.TrafficClass,
            Source = options.Source is null ? default : IpKey.FromAddress(options.Source),
            HasSource = options.Source is not null,
            TimeoutTicks = (long)(options.Timeout.TotalSeconds * Stopwatch.Frequency),
            Mode = options.Broadcast ? ProbeMode.Collect : ProbeMode.FirstAnswer,
            AnyResponder = options.Broadcast,
        };
        var count = options.Continuous ? long.MaxValue : options.Count;
        var sending = SendOnScheduleAsync(prober, template, count, options.Interval, observer, tally, stop.Token);
        try
        {
            for (long finished = 0; finished < count;)
            {
                var (result, final) = await observer.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (final)
                {
                    finished++;
                    if (options.Broadcast && result.Status == IcmpStatus.Success)
                    {
                        // The end of a broadcast probe that was answered: each answer was its own reply already.
                        continue;
                    }
                }
                if (result is { Status: IcmpStatus.SendFailed, SendError: Eacces } && !options.Broadcast)
                {
                    // The kernel refuses a broadcast destination to a socket without SO_BROADCAST (and only that).
                    throw new SocketBroadcastException(
                        $"'{destination}' is a broadcast address: ping it with -Broadcast to collect every host's reply.");
                }
                tally?.Add(in result, (int)Math.Min(result.Token, int.MaxValue - 1), family);
                yield return ReplyFactory.Create(in result, destination, family, prober.Kind == SocketKind.Raw);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await sending.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The schedule was stopped because the consumer stopped: nothing was lost.
            }
            if (tally is not null)
            {
                for (var i = 0; i < observer.Duplicates; i++)
                {
                    tally.AddDuplicate();
                }
            }
        }
    }

    private static async Task SendOnScheduleAsync(Prober prober, ProbeSpec template, long count, TimeSpan interval,
        ChannelObserver observer, HostTally? tally, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var intervalTicks = (long)(interval.TotalSeconds * Stopwatch.Frequency);
        for (long i = 0; i < count; i++)
        {
            if (i > 0 && intervalTicks > 0)
            {
                var wait = start + (i * intervalTicks) - Stopwatch.GetTimestamp();
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), cancellationToken).ConfigureAwait(false);
                }
            }
            cancellationToken.ThrowIfCancellationRequested();
            var probe = template;
            probe.Sequence = (ushort)(FirstSequence + i);
            probe.Token = i;
            tally?.MarkSent();
            prober.Send(new ReadOnlySpan<ProbeSpec>(in probe), observer);
        }
    }
}
