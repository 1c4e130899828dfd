using System.Management.Automation;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace IcmpTools.Shell;

/// <summary>
/// Writes each input object as one line of JSON on stdout: public properties by their .NET names, enums
/// by name. Scripts and tests on machines without pwsh read this instead of tables.
/// </summary>
[Cmdlet(VerbsData.Out, "JsonLine")]
public sealed class OutJsonLineCommand : PSCmdlet
{
    internal const string Name = "Out-JsonLine";

    private static readonly JsonSerializerOptions Options = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        ReferenceHandler = ReferenceHandler.IgnoreCycles,
    };

    [Parameter(ValueFromPipeline = true)]
    public PSObject? InputObject { get; set; }

    protected override void ProcessRecord() => Console.Out.WriteLine(ToJson(InputObject));

    internal static string ToJson(object? value)
    {
        var plain = Unwrap(value);
        try
        {
            return JsonSerializer.Serialize(plain, plain?.GetType() ?? typeof(object), Options);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or JsonException)
        {
            // Objects System.Text.Json cannot walk (pointers, delegates, types) are written as their text.
            return JsonSerializer.Serialize(plain?.ToString(), Options);
        }
    }

    /// <summary>A PSObject's base object; a [pscustomobject]'s note properties as a dictionary.</summary>
    private static object? Unwrap(object? value) => value switch
    {
        PSObject { BaseObject: PSCustomObject } custom => custom.Properties.ToDictionary(p => p.Name, p => Unwrap(p.Value)),
        PSObject wrapped => wrapped.BaseObject,
        _ => value,
    };
}
