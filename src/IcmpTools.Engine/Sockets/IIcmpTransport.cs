using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// Raw sockets need privilege and see every ICMP message; the unprivileged kind does not and sees only its own
/// answers: a datagram ("ping") socket on Linux, iphlpapi's request/response API on Windows.
/// </summary>
public enum SocketKind
{
    Raw,
    Datagram,
}

/// <summary>
/// A socket that carries ICMP echo requests out and ICMP messages in. Each transport parses its own
/// framing into <see cref="IcmpMessage"/>, so the prober knows nothing of the platform: raw sockets,
/// datagram sockets with an error queue, Windows' iphlpapi request/response calls and the test fake all fit
/// here. Send may be called from several threads at once, each with its own batch; Receive only by the
/// prober's receive loop. A request/response API completes each request on its own; it turns the completion
/// into the same message (the request's identifier and sequence, the cookie from the echoed data) and queues
/// it for Receive, so the prober matches and times it like any other answer.
/// </summary>
public interface IIcmpTransport : IDisposable
{
    IcmpFamily Family { get; }

    SocketKind Kind { get; }

    /// <summary>
    /// The identifier the kernel writes on every request (Linux datagram sockets own it: the socket's
    /// port); null when the prober's own identifier goes on the wire.
    /// </summary>
    int? KernelIdentifier { get; }

    /// <summary>What this transport can do, for planners to check (see <see cref="TransportCapabilities"/>).</summary>
    TransportCapabilities Capabilities => Kind == SocketKind.Datagram ? TransportCapabilities.LinuxDatagram : TransportCapabilities.Full;

    /// <summary>
    /// Sends every packet of the batch. Stamps each packet and calls <see cref="SendBatch.BeforeSend"/>
    /// before it leaves, and records each packet's errno. Throws only when the socket itself is unusable.
    /// </summary>
    void Send(SendBatch batch);

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> (-1: no limit) for messages, or until
    /// <see cref="Wake"/>, parses what it reads and hands each message to <paramref name="sink"/>.
    /// Returns how many it read; 0 on timeout or wake. <see cref="MoreQueued"/> says whether another
    /// call would find more at once.
    /// </summary>
    int Receive(int timeoutMilliseconds, IMessageSink sink);

    /// <summary>True when the last Receive stopped because its batch was full, not because the socket was empty.</summary>
    bool MoreQueued { get; }

    /// <summary>Makes a blocked or the next Receive return at once. Safe from any thread, also after Dispose.</summary>
    void Wake();
}
