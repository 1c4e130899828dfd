using System.Threading.Channels;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// Reading an operation's results: the channel its scheduler's failure path (<see cref="Probing.ProbeScheduler"/>'s
/// onFailure) ends with the failure, so a consumer waiting for outcomes hears of it instead of waiting forever.
/// </summary>
internal static class RunResults
{
    /// <summary>
    /// The next item. A channel ended with a failure throws that failure itself (the socket's error, as the caller
    /// reports it), not the <see cref="ChannelClosedException"/> that ReadAsync wraps it in. WaitToReadAsync needs no
    /// such help: it throws the failure a channel was completed with as it is.
    /// </summary>
    public static async ValueTask<T> ReadOrThrowAsync<T>(this ChannelReader<T> reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}
