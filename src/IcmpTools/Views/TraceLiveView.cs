using System.Globalization;
using System.Management.Automation.Host;
using System.Text;
using IcmpTools.Engine.Models;

namespace IcmpTools.Views;

/// <summary>
/// mtr's screen for Trace-IcmpRoute -Rounds / -Continuous: one table per target (hop, address or name,
/// loss, sent, last, avg, best, worst, stddev), redrawn in place after each round. <see cref="Render"/> is
/// the text (pure: tested without a console); <see cref="Draw"/> puts it on the console with VT sequences,
/// moving the cursor back over the lines it drew last time, so the table stays one table and Ctrl+C leaves
/// the last one on screen.
/// </summary>
internal sealed class TraceLiveView
{
    private const string Escape = "\u001b[";
    private static readonly string[] Numbers = ["Loss%", "Sent", "Last", "Avg", "Best", "Worst", "StDev"];
    private static readonly int[] NumberWidths = [6, 5, 7, 7, 7, 7, 7];
    /// <summary>Hop column and the gap after it.</summary>
    private const int HopWidth = 3;
    private const int MinAddressWidth = 15;

    private int _drawn;

    /// <summary>The table's lines for <paramref name="hops"/> (latest snapshot per distance, grouped by target), each shorter than <paramref name="width"/>.</summary>
    public static List<string> Render(IEnumerable<IGrouping<string, Hop>> hops, int width, string footer)
    {
        ArgumentNullException.ThrowIfNull(hops);
        var numbers = NumberWidths.Sum() + NumberWidths.Length;
        // The last column of a console line wraps on some terminals: stay one short of it.
        var usable = Math.Max(width - 1, HopWidth + 2 + MinAddressWidth + numbers);
        var addressWidth = usable - HopWidth - 2 - numbers;
        var lines = new List<string>();
        foreach (var target in hops)
        {
            var rounds = target.Max(h => h.Round ?? 0);
            lines.Add(Fit(string.Format(CultureInfo.InvariantCulture, "Trace to {0}, round {1}", target.Key, rounds), width));
            var header = new StringBuilder();
            header.Append("Hop".PadLeft(HopWidth)).Append("  ").Append("Address".PadRight(addressWidth));
            for (var i = 0; i < Numbers.Length; i++)
            {
                header.Append(' ').Append(Numbers[i].PadLeft(NumberWidths[i]));
            }
            lines.Add(Fit(header.ToString(), width));
            foreach (var hop in target.OrderBy(h => h.Distance))
            {
                lines.Add(Fit(Row(hop, addressWidth), width));
            }
        }
        lines.Add(Fit(footer, width));
        return lines;
    }

    private static string Row(Hop hop, int addressWidth)
    {
        var row = new StringBuilder();
        row.Append(hop.Distance.ToString(CultureInfo.InvariantCulture).PadLeft(HopWidth)).Append("  ");
        row.Append(Cut(AddressOf(hop), addressWidth).PadRight(addressWidth));
        string[] cells =
        [
            (hop.PacketLoss * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%",
            hop.PacketsSent.ToString(CultureInfo.InvariantCulture),
            Ms(hop.LastRtt), Ms(hop.AvgRtt), Ms(hop.MinRtt), Ms(hop.MaxRtt), Ms(hop.StdDev),
        ];
        for (var i = 0; i < cells.Length; i++)
        {
            row.Append(' ').Append(cells[i].PadLeft(NumberWidths[i]));
        }
        return row.ToString();
    }

    private static string AddressOf(Hop hop)
    {
        var text = hop.Address is null ? "???" : hop.Name is { } name ? $"{name} ({hop.Address})" : hop.Address;
        if (hop.Addresses.Count > 1)
        {
            text += $" +{hop.Addresses.Count - 1}";
        }
        return hop.Annotation is { } mark ? $"{text} {mark}" : text;
    }

    private static string Ms(double? value) => value is { } v ? v.ToString(v < 1000 ? "0.00" : "0", CultureInfo.InvariantCulture) : "";

    private static string Cut(string text, int width) => text.Length <= width ? text : string.Concat(text.AsSpan(0, width - 1), "…");

    private static string Fit(string line, int width) => line.Length < width ? line : Cut(line, Math.Max(1, width - 1));

    /// <summary>Draws <paramref name="lines"/> over the ones drawn last time (at most the window's height, less one line).</summary>
    public void Draw(PSHostUserInterface ui, IReadOnlyList<string> lines, int height)
    {
        ArgumentNullException.ThrowIfNull(ui);
        ArgumentNullException.ThrowIfNull(lines);
        var shown = lines.Count <= height - 1 ? lines : [.. lines.Take(Math.Max(1, height - 2)), lines[^1]];
        var text = new StringBuilder();
        if (_drawn > 0)
        {
            // Back to the first line drawn last time (CPL), then each line overwritten and cleared to its end (EL).
            text.Append(Escape).Append(_drawn.ToString(CultureInfo.InvariantCulture)).Append('F');
        }
        foreach (var line in shown)
        {
            text.Append(line).Append(Escape).Append('K').Append('\n');
        }
        // Lines a longer table left below (ED: erase to the end of the screen).
        text.Append(Escape).Append('J');
        ui.Write(text.ToString());
        _drawn = shown.Count;
    }
}
