using System.Collections.ObjectModel;
using System.Globalization;

namespace IcmpTools.Engine.Models;

/// <summary>
/// A host's RTTs in milliseconds, read-only. Scripts index and enumerate it, JSON and CliXml carry it as a
/// list; its text form is the values joined by ';' in the invariant culture, which is what Export-Csv writes
/// (it takes a property's ToString), so a CSV column reads "0.051;0.048" and parses back with
/// <c>-split ';' | ForEach-Object { [double]$_ }</c> on any machine, whatever its decimal separator.
/// </summary>
public sealed class RttList : ReadOnlyCollection<double>
{
    internal RttList(double[] rtts)
        : base(rtts)
    {
    }

    /// <summary>The separator of the text form; not ',' so that a CSV field needs no quoting.</summary>
    public const char Separator = ';';

    public override string ToString() =>
        string.Join(Separator, this.Select(r => r.ToString("R", CultureInfo.InvariantCulture)));
}
