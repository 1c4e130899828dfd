using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Probing;

/// <summary>
/// The probes a message can reach without a cookie of ours, by (destination, identifier, sequence): a probe
/// sent with an exact payload, one too short to carry its cookie, and any probe an error quotes with only
/// 8 bytes (RFC 792's minimum). The prober adds a probe as it writes it and removes it when its slot is
/// freed, so the index only ever names probes whose slot still holds them. Senders add and remove, the
/// receive thread finds; one lock serves all three.
/// </summary>
internal sealed class HeaderIndex
{
    private readonly Dictionary<(IpKey, ushort, ushort), List<(int Index, byte[]? Expected)>> _byHeader = new();
    private int _count;

    /// <summary>Probes indexed now. Read without the lock: the receive loop skips the look-up while there are none.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Indexes the probe in slot <paramref name="index"/>; <paramref name="expected"/> is the exact payload it was sent with, if any.</summary>
    public void Add(int index, in IpKey destination, ushort identifier, ushort sequence, byte[]? expected)
    {
        lock (_byHeader)
        {
            var key = (destination, identifier, sequence);
            if (!_byHeader.TryGetValue(key, out var list))
            {
                _byHeader[key] = list = new List<(int, byte[]?)>(1);
            }
            list.Add((index, expected));
            _count++;
        }
    }

    /// <summary>Forgets the probe in slot <paramref name="index"/>, indexed under these header fields; nothing when it is not there.</summary>
    public void Remove(int index, in IpKey destination, ushort identifier, ushort sequence)
    {
        lock (_byHeader)
        {
            var key = (destination, identifier, sequence);
            if (!_byHeader.TryGetValue(key, out var list))
            {
                return;
            }
            for (var i = 0; i < list.Count; i++)
            {
                if (list[i].Index == index)
                {
                    list.RemoveAt(i);
                    _count--;
                    if (list.Count == 0)
                    {
                        _byHeader.Remove(key);
                    }
                    return;
                }
            }
        }
    }

    /// <summary>
    /// The earliest-indexed probe sent to the message's probed destination with <paramref name="identifier"/>
    /// (the message's own, or the kernel's where it chooses) and the message's sequence, whose exact payload,
    /// if it had one, matches what came back.
    /// </summary>
    public bool TryFind(in IcmpMessage message, ushort identifier, ReadOnlySpan<byte> echoed, out int found)
    {
        found = -1;
        lock (_byHeader)
        {
            if (!_byHeader.TryGetValue((message.ProbedDestination, identifier, message.Sequence), out var list))
            {
                return false;
            }
            foreach (var (index, expected) in list)
            {
                if (expected is not null)
                {
                    // An exact payload: a reply echoes it whole; a quote long enough to hold 8 payload bytes starts with it.
                    if (message.Kind == IcmpKind.EchoReply ? !echoed.SequenceEqual(expected)
                        : message.HasCookie && !QuoteStartsWith(in message, expected))
                    {
                        continue;
                    }
                }
                else if (message.HasCookie)
                {
                    // A cookie of ours never gets here (it went by the cookie), and a probe of ours either carried
                    // one or was too short to be quoted with 8 payload bytes: a reply or an error carrying a cookie
                    // answers another operation's or another process's probe with the same header.
                    continue;
                }
                found = index;
                return true;
            }
        }
        return false;
    }

    /// <summary>The first 8 quoted payload bytes (parsed as a cookie) are the start of <paramref name="expected"/>.</summary>
    private static bool QuoteStartsWith(in IcmpMessage message, byte[] expected)
    {
        if (expected.Length < ProbeCookie.Size)
        {
            return false;
        }
        Span<byte> quoted = stackalloc byte[ProbeCookie.Size];
        message.Cookie.WriteTo(quoted);
        return quoted.SequenceEqual(expected.AsSpan(0, ProbeCookie.Size));
    }
}
