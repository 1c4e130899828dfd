using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// A socket that carries ICMP echo requests out and ICMP messages in. The prober knows nothing else of
/// the platform, so raw sockets, unprivileged datagram ("ping") sockets and the test fake all fit here.
/// Send may be called from several threads at once, each with its own batch; Receive is called only
/// by the prober's receive loop.
/// </summary>
public interface IIcmpTransport : IDisposable
{
    IcmpFamily Family { get; }

    /// <summary>True when received datagrams start with the IP header (Linux raw IPv4 sockets).</summary>
    bool IncludesIpHeader { get; }

    /// <summary>True when the kernel replaces the echo identifier with its own (Linux ping sockets).</summary>
    bool RewritesIdentifier { get; }

    /// <summary>The batch every Receive fills; owned by the transport, read by the receive loop.</summary>
    ReceiveBatch ReceiveBatch { get; }

    /// <summary>Sends every packet of the batch, recording per-packet errors and the send timestamps.</summary>
    void Send(SendBatch batch);

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> (-1: no limit) for packets, or until <see cref="Wake"/>,
    /// and fills <see cref="ReceiveBatch"/>. Returns how many packets it holds (0 on timeout or wake).
    /// </summary>
    int Receive(int timeoutMilliseconds);

    /// <summary>Makes a blocked or the next Receive return at once. Safe from any thread.</summary>
    void Wake();
}
