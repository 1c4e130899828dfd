namespace IcmpTools.Engine.Sockets;

/// <summary>Wall-clock time in the unit the kernel stamps packets with, to pair sends with kernel receive stamps.</summary>
internal static class Clock
{
    private static readonly long UnixEpochTicks = DateTime.UnixEpoch.Ticks;

    public static long RealtimeNs() => (DateTime.UtcNow.Ticks - UnixEpochTicks) * 100;

    public static DateTime FromRealtimeNs(long ns) => new(UnixEpochTicks + (ns / 100), DateTimeKind.Utc);
}
