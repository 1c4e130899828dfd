using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace IcmpTools.Binding;

/// <summary>Tab completion for -Source: the machine's own unicast addresses (the only ones a probe can leave from).</summary>
public sealed class SourceAddressCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var prefix = Unquote(wordToComplete);
        return NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(nic => nic.GetIPProperties().UnicastAddresses.Select(u => (Nic: nic.Name, u.Address)))
            .Where(a => a.Address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            .Select(a => (a.Nic, Text: a.Address.ToString()))
            .Where(a => a.Text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .DistinctBy(a => a.Text)
            .OrderBy(a => a.Text.Contains(':', StringComparison.Ordinal)).ThenBy(a => a.Text, StringComparer.Ordinal)
            .Select(a => new CompletionResult(a.Text, a.Text, CompletionResultType.ParameterValue, $"{a.Text} on {a.Nic}"))
            .ToList();
    }

    internal static string Unquote(string word) => word.Trim('\'', '"');
}

/// <summary>
/// Tab completion for -Interface: the interface names; on Windows also the interface indexes (ifIndex), since
/// Windows users name an interface by alias or by index and the transports take both.
/// </summary>
public sealed class InterfaceNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var prefix = SourceAddressCompleter.Unquote(wordToComplete);
        var nics = NetworkInterface.GetAllNetworkInterfaces();
        var byName = nics
            .Where(nic => nic.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .OrderBy(nic => nic.Name, StringComparer.Ordinal)
            .Select(nic => new CompletionResult(Quote(nic.Name), nic.Name, CompletionResultType.ParameterValue,
                $"{nic.Name} ({nic.NetworkInterfaceType}, {nic.OperationalStatus})"));
        if (!OperatingSystem.IsWindows())
        {
            return byName.ToList();
        }
        var byIndex = nics
            .Select(nic => (Nic: nic, Index: IndexOf(nic)))
            .Where(n => n.Index > 0)
            .Select(n => (n.Nic, Text: n.Index.ToString(CultureInfo.InvariantCulture)))
            .Where(n => n.Text.StartsWith(prefix, StringComparison.Ordinal))
            .OrderBy(n => n.Text.Length).ThenBy(n => n.Text, StringComparer.Ordinal)
            .Select(n => new CompletionResult(n.Text, n.Text, CompletionResultType.ParameterValue, $"{n.Text}: {n.Nic.Name}"));
        return byName.Concat(byIndex).ToList();
    }

    // Windows aliases often hold spaces ("Ethernet 2", "Wi-Fi"): completion must give a value that binds as one word.
    private static string Quote(string name) =>
        name.Any(char.IsWhiteSpace) ? "'" + name.Replace("'", "''", StringComparison.Ordinal) + "'" : name;

    private static int IndexOf(NetworkInterface nic)
    {
        try
        {
            var properties = nic.GetIPProperties();
            return properties.GetIPv4Properties()?.Index ?? properties.GetIPv6Properties()?.Index ?? -1;
        }
        catch (NetworkInformationException)
        {
            return -1;
        }
    }
}
