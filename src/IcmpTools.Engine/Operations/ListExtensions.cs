namespace IcmpTools.Engine.Operations;

internal static class ListExtensions
{
    /// <summary>
    /// Hands everything <paramref name="from"/> holds to <paramref name="into"/> and empties it: how a planner gives its
    /// driver what piled up since the last call (the Take* methods of <see cref="ITracePlanner"/>).
    /// </summary>
    public static void MoveTo<T>(this List<T> from, List<T> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        into.AddRange(from);
        from.Clear();
    }
}
