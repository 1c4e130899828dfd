using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Errors;

/// <summary>
/// A ping was cancelled before its last probe had an outcome; <see cref="Partial"/> summarises what was sent
/// until then (probes still in flight count as sent and unanswered, as ping's statistics on Ctrl+C count them).
/// An <see cref="OperationCanceledException"/>, so callers that only care about the stop see one.
/// </summary>
public sealed class PingStoppedException : OperationCanceledException
{
    public PingStoppedException() { }
    public PingStoppedException(string message) : base(message) { }
    public PingStoppedException(string message, Exception innerException) : base(message, innerException) { }

    public PingStoppedException(Host partial, OperationCanceledException innerException)
        : base("The ping was stopped.", innerException, innerException?.CancellationToken ?? default)
    {
        Partial = partial;
    }

    /// <summary>The host's statistics over the probes sent before the stop.</summary>
    public Host? Partial { get; }
}
