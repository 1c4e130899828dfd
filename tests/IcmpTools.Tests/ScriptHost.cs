using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text.Json;

namespace IcmpTools.Tests;

/// <summary>
/// The test assembly doubles as a minimal PowerShell host for tests that must run the module in another
/// process: as another user (uid 65534 without capabilities), or inside a network namespace from the
/// start. <c>dotnet exec IcmpTools.Tests.dll --run-script MODULE SCRIPT</c> imports MODULE, runs SCRIPT and
/// prints one line per result: <c>OUT {json}</c> for an object (its properties, one level deep),
/// <c>ERR {FullyQualifiedErrorId} {message}</c> for an error record, terminating or not, and
/// <c>VERBOSE {message}</c> for verbose output. The test runner never calls this entry point.
/// </summary>
internal static class ScriptHost
{
    public const string Flag = "--run-script";

    public static int Main(string[] args)
    {
        if (args.Length != 3 || args[0] != Flag)
        {
            Console.Error.WriteLine($"usage: IcmpTools.Tests {Flag} MODULE SCRIPT");
            return 64;
        }
        using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        runspace.Open();
        using var ps = PowerShell.Create();
        ps.Runspace = runspace;
        ps.AddScript($$"""
            Import-Module '{{args[1].Replace("'", "''", StringComparison.Ordinal)}}' -ErrorAction Stop
            try { & { {{args[2]}} } *>&1 } catch { $_ }
            """);
        try
        {
            foreach (var item in ps.Invoke())
            {
                Console.WriteLine(Line(item));
            }
        }
        catch (RuntimeException e)
        {
            Console.WriteLine($"ERR {e.ErrorRecord.FullyQualifiedErrorId} {OneLine(e.Message)}");
            return 2;
        }
        foreach (var error in ps.Streams.Error)
        {
            Console.WriteLine($"ERR {error.FullyQualifiedErrorId} {OneLine(error.Exception.Message)}");
        }
        return 0;
    }

    private static string Line(PSObject? item) => item?.BaseObject switch
    {
        null => "OUT null",
        ErrorRecord e => $"ERR {e.FullyQualifiedErrorId} {OneLine(e.Exception.Message)}",
        VerboseRecord v => $"VERBOSE {OneLine(v.Message)}",
        InformationalRecord i => $"INFO {OneLine(i.Message)}",
        string or bool or int or long or double => "OUT " + JsonSerializer.Serialize(item.BaseObject),
        _ => "OUT " + JsonSerializer.Serialize(Properties(item)),
    };

    private static Dictionary<string, object?> Properties(PSObject item)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in item.Properties)
        {
            object? value;
            try
            {
                value = property.Value;
            }
            catch (GetValueException)
            {
                continue;
            }
            values[property.Name] = value switch
            {
                null => null,
                string or bool or int or long or double or float or ushort or byte => value,
                Enum e => e.ToString(),
                DateTime d => d.ToString("O", CultureInfo.InvariantCulture),
                System.Collections.IEnumerable list => list.Cast<object?>().Select(o => o?.ToString()).ToList(),
                _ => value.ToString(),
            };
        }
        return values;
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
