using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using DnsClient;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Lookups;

/// <summary>
/// Looks up the origin AS of addresses over DNS (<see cref="CymruOrigin"/>), several at a time, each bounded by
/// <see cref="Timeout"/>. Answers are cached for the process per DNS server, so later traces (and rounds) ask
/// once per address; a lookup that timed out or failed is not cached and is asked again next time.
/// </summary>
/// <remarks>
/// The queries run on this resolver's own threads, started by its constructor, with DnsClient's synchronous
/// API. A thread starts in the network namespace of the thread that creates it, and a synchronous query makes
/// its socket on the thread that runs it, so every query leaves from the creator's namespace (a trace inside a
/// lab namespace asks the lab's server) rather than from whichever pool thread an await resumed on.
/// </remarks>
public sealed class AsnResolver : IDisposable
{
    /// <summary>The default bound on one lookup.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(1);

    private const int Workers = 4;

    private static readonly ConcurrentDictionary<(string Server, IPAddress Address), AsnInfo?> Cache = new();

    private readonly LookupClient _client;
    private readonly string _server;
    private readonly BlockingCollection<(IPAddress Address, TaskCompletionSource<AsnInfo?> Result)> _queue = new();
    private readonly Thread[] _threads;

    /// <param name="server">The DNS server to ask; null: the system's resolvers (/etc/resolv.conf, or the adapters' on Windows).</param>
    /// <param name="timeout">The bound on one lookup; null: <see cref="DefaultTimeout"/>.</param>
    public AsnResolver(IPEndPoint? server = null, TimeSpan? timeout = null)
    {
        Timeout = timeout ?? DefaultTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Timeout, TimeSpan.Zero, nameof(timeout));
        var options = server is null ? new LookupClientOptions() : new LookupClientOptions(server);
        // One try, no TCP retry, no client cache: the bound is the caller's, and the cache is ours (by address).
        options.Timeout = Timeout;
        options.Retries = 0;
        options.UseTcpFallback = false;
        options.UseCache = false;
        options.ThrowDnsErrors = false;
        options.ContinueOnDnsError = false;
        options.ContinueOnEmptyResponse = false;
        _client = new LookupClient(options);
        _server = server?.ToString() ?? "system";
        _threads = new Thread[Workers];
        for (var i = 0; i < Workers; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = "IcmpTools ASN lookup" };
            _threads[i].Start();
        }
    }

    /// <summary>The bound on one lookup.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Raised (on a lookup thread) when a lookup fails or times out, with the address and why: for -Verbose.</summary>
    public event Action<IPAddress, string>? LookupFailed;

    /// <summary>
    /// The origin of <paramref name="address"/>; null when the service has none (no record, or none that parses)
    /// or the lookup failed or timed out. Never throws for a network outcome.
    /// </summary>
    public Task<AsnInfo?> LookUpAsync(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (Cache.TryGetValue((_server, address), out var cached))
        {
            return Task.FromResult(cached);
        }
        var result = new TaskCompletionSource<AsnInfo?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.TryAdd((address, result)))
        {
            result.TrySetResult(null);
        }
        return result.Task;
    }

    private void Work()
    {
        foreach (var (address, result) in _queue.GetConsumingEnumerable())
        {
            try
            {
                result.TrySetResult(Query(address));
            }
            finally
            {
                // Whatever went wrong, the caller is never left waiting.
                result.TrySetResult(null);
            }
        }
    }

    private AsnInfo? Query(IPAddress address)
    {
        try
        {
            var response = _client.Query(CymruOrigin.ReverseName(address), QueryType.TXT);
            if (response.HasError && response.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
            {
                LookupFailed?.Invoke(address, response.ErrorMessage);
                return null;
            }
            var info = CymruOrigin.Parse(response.Answers.TxtRecords().Select(r => string.Concat(r.Text)));
            Cache[(_server, address)] = info;
            return info;
        }
        catch (Exception e) when (e is DnsResponseException or SocketException or TimeoutException or IOException)
        {
            // A timeout or an unusable answer: the hop has no AS number, and the next trace asks again.
            LookupFailed?.Invoke(address, e.Message);
            return null;
        }
    }

    /// <summary>Ends the lookup threads once the queued lookups are answered; lookups asked later answer null.</summary>
    public void Dispose() => _queue.CompleteAdding();
}
