using System.Management.Automation;
using System.Management.Automation.Runspaces;
using Microsoft.PowerShell;

namespace IcmpTools.WinPwshHost;

/// <summary>
/// Runs one script file in a PowerShell 7 runspace and exits with its result: WinPwshHost.exe script.ps1 [args].
/// The exit code is the script's $LASTEXITCODE (what 'exit N' sets), 1 when the script stopped with a
/// terminating error, 2 for a bad command line. Streams go to the console as pwsh -File would print them.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0 || !File.Exists(args[0]))
        {
            Console.Error.WriteLine("usage: WinPwshHost script.ps1 [argument ...] (script not found: " + (args.Length == 0 ? "none given" : args[0]) + ")");
            return 2;
        }

        AvoidWineCatalogSignatureCrash();
        var state = InitialSessionState.CreateDefault2();
        // A test host runs the repo's unsigned scripts and the restored Pester module as they are.
        state.ExecutionPolicy = ExecutionPolicy.Bypass;
        using var runspace = RunspaceFactory.CreateRunspace(state);
        runspace.Open();
        using var shell = PowerShell.Create(runspace);
        ConnectStreams(shell.Streams);

        // The file runs as a command, as pwsh -File runs it; Out-String -Stream renders objects as the console would.
        shell.AddCommand(Path.GetFullPath(args[0]));
        AddArguments(shell, args.AsSpan(1));
        shell.AddCommand("Out-String").AddParameter("Stream").AddParameter("Width", 200);
        var output = new PSDataCollection<PSObject>();
        output.DataAdded += (_, e) => Console.Out.WriteLine(output[e.Index]);
        try
        {
            shell.Invoke(null, output);
        }
        catch (RuntimeException e)
        {
            Console.Error.WriteLine(e.ErrorRecord.ToString());
            Console.Error.WriteLine(e.ErrorRecord.InvocationInfo?.PositionMessage);
            return 1;
        }

        return runspace.SessionStateProxy.GetVariable("LASTEXITCODE") switch
        {
            int code => code,
            _ when shell.InvocationStateInfo.State == PSInvocationState.Failed => 1,
            _ => 0,
        };
    }

    /// <summary>
    /// Wine, not Windows: every runspace PowerShell opens reads its types files in parallel and asks, for each, whether
    /// it is a product binary (SecuritySupport.IsProductBinary), through Microsoft.Security.Extensions' catalog API
    /// (FileSignatureInfo.GetFromFileStream) first. Under Wine 8 that native call crashed the whole host once with an
    /// access violation (0xC0000005 in FileSignatureInfo.GetSignatureInfo, from TypeTable.Update on a Parallel.ForEach
    /// worker), which no catch can stop and which loses the run's results. PowerShell itself falls back to WinVerifyTrust
    /// when that API is unavailable (the internal static field Signature.CatalogApiAvailable = false, what it sets after the API throws); this test
    /// host, never shipped, takes the fallback from the start. On Windows the catalog API is sound and nothing is needed.
    /// </summary>
    private static void AvoidWineCatalogSignatureCrash()
    {
        var flag = typeof(Signature).GetField("CatalogApiAvailable",
            System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static);
        if (flag is null)
        {
            Console.Error.WriteLine("WinPwshHost: Signature.CatalogApiAvailable not found in this PowerShell; the catalog API stays on.");
            return;
        }
        flag.SetValue(null, false);
    }

    /// <summary>
    /// Binds the rest of the command line as pwsh -File does: "-Name value" is a named parameter,
    /// "-Name" before another "-Name" (or last) a switch, anything else positional.
    /// </summary>
    private static void AddArguments(PowerShell shell, ReadOnlySpan<string> rest)
    {
        for (int i = 0; i < rest.Length; i++)
        {
            string token = rest[i];
            if (token.Length > 1 && token[0] == '-')
            {
                bool hasValue = i + 1 < rest.Length && !(rest[i + 1].Length > 1 && rest[i + 1][0] == '-');
                shell.AddParameter(token[1..], hasValue ? rest[++i] : true);
            }
            else
            {
                shell.AddArgument(token);
            }
        }
    }

    private static void ConnectStreams(PSDataStreams streams)
    {
        streams.Information.DataAdded += (_, e) =>
        {
            // Write-Host -NoNewline (Pester's summary lines are built that way) continues the line.
            object data = streams.Information[e.Index].MessageData;
            if (data is HostInformationMessage { NoNewLine: true } part)
            {
                Console.Out.Write(part.Message);
            }
            else
            {
                Console.Out.WriteLine(data);
            }
        };
        streams.Warning.DataAdded += (_, e) => Console.Out.WriteLine("WARNING: " + streams.Warning[e.Index].Message);
        streams.Verbose.DataAdded += (_, e) => Console.Out.WriteLine("VERBOSE: " + streams.Verbose[e.Index].Message);
        streams.Error.DataAdded += (_, e) =>
        {
            var record = streams.Error[e.Index];
            Console.Error.WriteLine(record.ToString());
            Console.Error.WriteLine(record.InvocationInfo?.PositionMessage);
        };
    }
}
