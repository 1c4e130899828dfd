using System.Collections;
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

/// <summary>Tab completion for an interface name (for -Interface, as the socket and sweep cmdlets take it).</summary>
public sealed class InterfaceNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var prefix = SourceAddressCompleter.Unquote(wordToComplete);
        return NetworkInterface.GetAllNetworkInterfaces()
            .Where(nic => nic.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .OrderBy(nic => nic.Name, StringComparer.Ordinal)
            .Select(nic => new CompletionResult(nic.Name, nic.Name, CompletionResultType.ParameterValue,
                $"{nic.Name} ({nic.NetworkInterfaceType}, {nic.OperationalStatus})"))
            .ToList();
    }
}
