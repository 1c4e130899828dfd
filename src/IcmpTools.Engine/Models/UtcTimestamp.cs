using System.Globalization;

namespace IcmpTools.Engine.Models;

/// <summary>
/// A wall-clock instant in UTC whose text form is ISO 8601 with milliseconds ("2026-12-07T15:50:30.123Z").
/// <para>
/// It exists for Export-Csv and ConvertTo-Csv, which write a property's own <c>ToString()</c>: a
/// <see cref="DateTime"/> there reads "12/07/2026 15:50:30" (the culture's order, no milliseconds, no zone)
/// and a <see cref="DateTimeOffset"/> no better. In PowerShell it still behaves as a time: it compares with
/// itself, <see cref="DateTime"/> and <see cref="DateTimeOffset"/> (<c>-gt (Get-Date).AddMinutes(-5)</c>),
/// sorts, subtracts to a <see cref="TimeSpan"/> both ways round with <c>Get-Date</c>, and converts with
/// <c>[datetime]</c>, <c>[datetimeoffset]</c> or <c>Get-Date -Date</c>, always by the instant, in any time zone.
/// </para>
/// <para>
/// That is why the conversion to <see cref="DateTime"/> gives local time, as PowerShell's own
/// <c>[datetime]'2026-12-07T15:50:30.123Z'</c> does: <see cref="DateTime"/> compares and subtracts ticks and
/// ignores its Kind, so <c>(Get-Date) - $t</c> and <c>(Get-Date) -lt $t</c>, which convert this side to
/// <see cref="DateTime"/>, would be off by the zone's offset against a UTC one (as the former DateTime
/// property was). <see cref="UtcDateTime"/> gives the instant in UTC, to the tick, and is what ConvertTo-Json writes.
/// </para>
/// </summary>
public readonly struct UtcTimestamp : IComparable, IComparable<UtcTimestamp>, IEquatable<UtcTimestamp>, IFormattable
{
    /// <summary>The text form, in the invariant culture: what CSV, string expansion and the list views show.</summary>
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    /// <summary>
    /// The instant <paramref name="time"/> names: a local time is converted, an unspecified one is taken as
    /// local, as <see cref="DateTimeOffset"/>'s own conversion from <see cref="DateTime"/> does.
    /// </summary>
    public UtcTimestamp(DateTime time)
    {
        UtcDateTime = time.Kind == DateTimeKind.Utc ? time : time.ToUniversalTime();
    }

    public UtcTimestamp(DateTimeOffset time)
    {
        UtcDateTime = time.UtcDateTime;
    }

    /// <summary>
    /// The instant as a <see cref="DateTime"/> of kind UTC, to the tick. Settable at initialisation only, so that
    /// Import-Clixml and remoting rebuild the timestamp from its one serialised property (IcmpTools.Types.ps1xml).
    /// </summary>
    public DateTime UtcDateTime
    {
        get;
        init => field = value.Kind == DateTimeKind.Utc ? value : new UtcTimestamp(value).UtcDateTime;
    }

    public static UtcTimestamp Now => new(DateTime.UtcNow);

    public static implicit operator UtcTimestamp(DateTime time) => new(time);
    public static implicit operator UtcTimestamp(DateTimeOffset time) => new(time);
    /// <summary>The instant in local time (Kind Local): see the type's remarks; <see cref="UtcDateTime"/> for UTC.</summary>
    public static implicit operator DateTime(UtcTimestamp time) => time.UtcDateTime.ToLocalTime();
    public static implicit operator DateTimeOffset(UtcTimestamp time) => new(time.UtcDateTime);

    public static TimeSpan operator -(UtcTimestamp left, UtcTimestamp right) => left.UtcDateTime - right.UtcDateTime;
    public static UtcTimestamp operator +(UtcTimestamp time, TimeSpan span) => new(time.UtcDateTime + span);
    public static UtcTimestamp operator -(UtcTimestamp time, TimeSpan span) => new(time.UtcDateTime - span);
    public static bool operator ==(UtcTimestamp left, UtcTimestamp right) => left.Equals(right);
    public static bool operator !=(UtcTimestamp left, UtcTimestamp right) => !left.Equals(right);
    public static bool operator <(UtcTimestamp left, UtcTimestamp right) => left.CompareTo(right) < 0;
    public static bool operator <=(UtcTimestamp left, UtcTimestamp right) => left.CompareTo(right) <= 0;
    public static bool operator >(UtcTimestamp left, UtcTimestamp right) => left.CompareTo(right) > 0;
    public static bool operator >=(UtcTimestamp left, UtcTimestamp right) => left.CompareTo(right) >= 0;

    public int CompareTo(UtcTimestamp other) => UtcDateTime.CompareTo(other.UtcDateTime);

    /// <summary>Compares with another timestamp, a <see cref="DateTime"/> or a <see cref="DateTimeOffset"/>, as PowerShell's -lt and -gt do.</summary>
    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        UtcTimestamp other => CompareTo(other),
        DateTime time => CompareTo(new UtcTimestamp(time)),
        DateTimeOffset time => CompareTo(new UtcTimestamp(time)),
        _ => throw new ArgumentException($"A UtcTimestamp compares with a UtcTimestamp, DateTime or DateTimeOffset, not {obj.GetType()}.", nameof(obj)),
    };

    public bool Equals(UtcTimestamp other) => UtcDateTime.Ticks == other.UtcDateTime.Ticks;

    public override bool Equals(object? obj) => obj is UtcTimestamp other && Equals(other);

    public override int GetHashCode() => UtcDateTime.Ticks.GetHashCode();

    /// <summary>ISO 8601 in UTC with milliseconds, whatever the culture: "2026-12-07T15:50:30.123Z".</summary>
    public override string ToString() => UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);

    /// <summary>
    /// With a format, the <see cref="DateTime"/>'s own (<c>'{0:HH:mm:ss.ffff}' -f $t</c>, <c>$t.ToString('o')</c>);
    /// without one, <see cref="ToString()"/>. PowerShell's string conversion ("$t", <c>[string]$t</c>, the
    /// string side of <c>-eq</c>) calls this without a format and so also gets the ISO text.
    /// </summary>
    public string ToString(string? format, IFormatProvider? formatProvider) => string.IsNullOrEmpty(format)
        ? ToString()
        : UtcDateTime.ToString(format, formatProvider ?? CultureInfo.InvariantCulture);

    /// <summary>The <see cref="DateTime"/> format in the invariant culture, so PowerShell's <c>$t.ToString('o')</c> binds.</summary>
    public string ToString(string? format) => ToString(format, CultureInfo.InvariantCulture);
}
