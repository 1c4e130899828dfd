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
/// <remarks>
/// Within the window's width the address stays whole: what does not fit goes, least useful first. The number
/// columns give way (StDev, Worst, Best, Last; never Loss%, Sent or Avg) only as far as the widest "AS address
/// mark" needs (the AS is mtr -z's "AS64501" before the host, with -ResolveAsn). In the room the address column
/// then has, a row's name is cut, then dropped, then its "+N" of other responders, then its AS. Only a window
/// too narrow for the address beside Loss%, Sent and Avg cuts the address.
/// </remarks>
internal sealed class TraceLiveView
{
    private const string Escape = "\u001b[";
    private static readonly string[] Numbers = ["Loss%", "Sent", "Last", "Avg", "Best", "Worst", "StDev"];
    private static readonly int[] NumberWidths = [6, 5, 7, 7, 7, 7, 7];
    /// <summary>The number columns in the order they give way to the address: StDev first; Loss%, Sent and Avg never.</summary>
    private static readonly int[] DroppedFirst = [6, 5, 4, 2];
    /// <summary>Hop column and the gap after it.</summary>
    private const int HopWidth = 3;
    private const int MinAddressWidth = 15;
    /// <summary>The shortest cut name worth showing ("rou…"); shorter, the name goes.</summary>
    private const int MinNameWidth = 4;

    private int _drawn;
    private int _drawnWidth;

    /// <summary>
    /// The table's lines for <paramref name="hops"/> (latest snapshot per distance, grouped by target), each shorter than
    /// <paramref name="width"/>; with <paramref name="showAsn"/> each address has its origin AS before it ("AS???" unknown).
    /// </summary>
    public static List<string> Render(IEnumerable<IGrouping<string, Hop>> hops, int width, string footer, bool showAsn = false)
    {
        ArgumentNullException.ThrowIfNull(hops);
        var targets = hops.Select(g => (g.Key, Hops: g.OrderBy(h => h.Distance).ToList())).ToList();
        var cells = targets.SelectMany(t => t.Hops).Select(h => new AddressCell(h, showAsn)).ToList();
        var asWidth = cells.Max(c => (int?)c.As?.Length) ?? 0;
        // The last column of a console line wraps on some terminals: stay one short of it.
        var usable = width - 1;
        var shown = Enumerable.Range(0, Numbers.Length).ToList();
        var essential = Math.Max(MinAddressWidth, cells.Max(c => (int?)c.EssentialLength(asWidth)) ?? 0);
        foreach (var column in DroppedFirst)
        {
            if (AddressWidth(usable, shown) >= essential)
            {
                break;
            }
            shown.Remove(column);
        }
        var addressWidth = Math.Max(MinAddressWidth, AddressWidth(usable, shown));
        var lines = new List<string>();
        var next = 0;
        foreach (var (target, targetHops) in targets)
        {
            var rounds = targetHops.Max(h => h.Round ?? 0);
            lines.Add(Fit(string.Format(CultureInfo.InvariantCulture, "Trace to {0}, round {1}", target, rounds), width));
            var header = new StringBuilder();
            header.Append("Hop".PadLeft(HopWidth)).Append("  ").Append("Address".PadRight(addressWidth));
            foreach (var i in shown)
            {
                header.Append(' ').Append(Numbers[i].PadLeft(NumberWidths[i]));
            }
            lines.Add(Fit(header.ToString(), width));
            foreach (var hop in targetHops)
            {
                lines.Add(Fit(Row(hop, cells[next++].Fit(addressWidth, asWidth), addressWidth, shown), width));
            }
        }
        lines.Add(Fit(footer, width));
        return lines;
    }

    private static int AddressWidth(int usable, List<int> shown) => usable - HopWidth - 2 - shown.Sum(i => NumberWidths[i] + 1);

    private static string Row(Hop hop, string address, int addressWidth, List<int> shown)
    {
        var row = new StringBuilder();
        row.Append(hop.Distance.ToString(CultureInfo.InvariantCulture).PadLeft(HopWidth)).Append("  ");
        row.Append(address.PadRight(addressWidth));
        string[] cells =
        [
            (hop.PacketLoss * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%",
            hop.PacketsSent.ToString(CultureInfo.InvariantCulture),
            Ms(hop.LastRtt), Ms(hop.AvgRtt), Ms(hop.MinRtt), Ms(hop.MaxRtt), Ms(hop.StdDev),
        ];
        foreach (var i in shown)
        {
            row.Append(' ').Append(cells[i].PadLeft(NumberWidths[i]));
        }
        return row.ToString();
    }

    /// <summary>
    /// What the address column says about a hop, in parts that give way one by one: AS, name, address, "+N" other
    /// responders, traceroute's mark. The address and the mark go together ("198.18.2.2 !H") and are the last to be cut.
    /// </summary>
    private sealed class AddressCell
    {
        private readonly string? _name;
        private readonly string _address;
        private readonly string _others;
        private readonly string _mark;

        public AddressCell(Hop hop, bool showAsn)
        {
            // A silent hop has no AS to look up: blank, so that its "???" lines up with the addresses.
            As = !showAsn ? null : hop.Address is null ? "" : hop.Asn is { } asn ? "AS" + asn.ToString(CultureInfo.InvariantCulture) : "AS???";
            _name = hop.Address is null ? null : hop.Name;
            _address = hop.Address ?? "???";
            _others = hop.Addresses.Count > 1 ? " +" + (hop.Addresses.Count - 1).ToString(CultureInfo.InvariantCulture) : "";
            _mark = hop.Annotation is { } mark ? " " + mark : "";
        }

        /// <summary>With -ResolveAsn "AS64501", "AS???" when unknown, "" for a silent hop; else null.</summary>
        public string? As { get; }

        /// <summary>The text that stays whole while any number column can still give way: AS, address, mark.</summary>
        public int EssentialLength(int asWidth) => Prefix(asWidth).Length + _address.Length + _mark.Length;

        public string Fit(int width, int asWidth)
        {
            var prefix = Prefix(asWidth);
            var tail = _others + _mark;
            if (_name is { } name)
            {
                // "name (address)", the name cut to what is left while a few letters of it remain.
                var room = width - prefix.Length - _address.Length - 3 - tail.Length;
                if (room >= Math.Min(name.Length, MinNameWidth))
                {
                    return $"{prefix}{Cut(name, room)} ({_address}){tail}";
                }
            }
            string[] candidates = [prefix + _address + tail, prefix + _address + _mark, _address + _mark];
            return candidates.FirstOrDefault(c => c.Length <= width) ?? Cut(_address + _mark, width);
        }

        private string Prefix(int asWidth) => As is null ? "" : As.PadRight(asWidth) + " ";
    }

    private static string Ms(double? value) => value is { } v ? v.ToString(v < 1000 ? "0.00" : "0", CultureInfo.InvariantCulture) : "";

    private static string Cut(string text, int width) => text.Length <= width ? text : string.Concat(text.AsSpan(0, width - 1), "…");

    private static string Fit(string line, int width) => line.Length < width ? line : Cut(line, Math.Max(1, width - 1));

    /// <summary>
    /// Draws <paramref name="lines"/> over the ones drawn last time (at most the window's height, less one line);
    /// <paramref name="width"/> is the window's width they were rendered for.
    /// </summary>
    public void Draw(PSHostUserInterface ui, IReadOnlyList<string> lines, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(ui);
        ArgumentNullException.ThrowIfNull(lines);
        var shown = lines.Count <= height - 1 ? lines : [.. lines.Take(Math.Max(1, height - 2)), lines[^1]];
        var text = new StringBuilder();
        if (_drawn > 0 && width == _drawnWidth)
        {
            // Back to the first line drawn last time (CPL), then each line overwritten and cleared to its end (EL).
            text.Append(Escape).Append(_drawn.ToString(CultureInfo.InvariantCulture)).Append('F');
        }
        else if (_drawn > 0)
        {
            // The window was resized: a terminal that rewraps its lines (tmux, VTE, Windows Terminal) has moved the
            // last table's lines by a number of rows no one can tell, so the table starts again at the top of a
            // cleared screen (CUP home, ED) instead of leaving pieces of the old one above the new.
            text.Append(Escape).Append('H').Append(Escape).Append('J');
        }
        foreach (var line in shown)
        {
            text.Append(line).Append(Escape).Append('K').Append('\n');
        }
        // Lines a longer table left below (ED: erase to the end of the screen).
        text.Append(Escape).Append('J');
        ui.Write(text.ToString());
        _drawn = shown.Count;
        _drawnWidth = width;
    }
}
