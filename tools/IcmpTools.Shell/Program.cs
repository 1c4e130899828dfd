using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace IcmpTools.Shell;

/// <summary>
/// Runs a PowerShell command or script with the IcmpTools module imported, for machines without pwsh.
/// Exit codes: 0 success, 1 error records were written, 2 terminating or parse error, 64 bad command
/// line (as pwsh), 130 stopped by Ctrl+C, N when the command or script ran <c>exit N</c>.
/// </summary>
internal static class Program
{
    private const int ErrorsWritten = 1;
    private const int Terminated = 2;
    private const int UsageError = 64;
    private const int Interrupted = 130;

    /// <summary>How long a stopped pipeline may take to unwind before the process leaves without it.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    private const string Usage =
        "usage: IcmpTools.Shell [-Module PATH] [-OutputFormat Text|Json] (-Command TEXT... | -File SCRIPT.ps1 [ARGS...])";

    private static PowerShell? s_running;
    private static int s_interrupted;

    public static int Main(string[] args)
    {
        if (!ShellOptions.TryParse(args, out var options, out var problem))
        {
            Console.Error.WriteLine(problem);
            Console.Error.WriteLine(Usage);
            return UsageError;
        }
        var module = options.Module ?? FindBuiltModule();
        if (module is null)
        {
            Console.Error.WriteLine($"No IcmpTools.sln above {AppContext.BaseDirectory}, so no out/IcmpTools to import; pass -Module PATH.");
            return UsageError;
        }
        if (options.File is not null && !File.Exists(options.File))
        {
            Console.Error.WriteLine($"The script '{options.File}' does not exist.");
            return UsageError;
        }
        if (!Directory.Exists(module) && !File.Exists(module))
        {
            Console.Error.WriteLine($"The module '{module}' does not exist; build it first (dotnet build IcmpTools.sln -c Release) or pass -Module PATH.");
            return Terminated;
        }

        var host = new ShellHost(options.Json);
        var state = InitialSessionState.CreateDefault2();
        if (OperatingSystem.IsWindows())
        {
            // Windows checks -File scripts and the module's ps1xml files against it; elsewhere setting it throws.
            state.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Unrestricted;
        }
        state.Commands.Add(new SessionStateCmdletEntry(OutJsonLineCommand.Name, typeof(OutJsonLineCommand), null));
        Console.CancelKeyPress += OnCancelKeyPress;

        using var runspace = RunspaceFactory.CreateRunspace(host, state);
        runspace.Open();

        var import = Run(runspace, host, ps => ps.AddCommand("Import-Module").AddParameter("Name", module).AddParameter("ErrorAction", "Stop"));
        if (import != 0)
        {
            return import;
        }
        return Run(runspace, host, ps =>
        {
            if (options.Command is not null)
            {
                ps.AddScript(options.Command);
            }
            else
            {
                AddScriptFile(ps, options.File!, options.FileArguments);
            }
            ps.AddCommand(options.Json ? OutJsonLineCommand.Name : "Out-Default");
        }, exitCodeFromScript: options.File is not null);
    }

    private static int Run(Runspace runspace, ShellHost host, Action<PowerShell> build, bool exitCodeFromScript = false)
    {
        using var ps = PowerShell.Create();
        ps.Runspace = runspace;
        build(ps);
        // Errors are shown as they happen, on stderr, whatever the output format.
        ps.Streams.Error.DataAdded += (_, e) => host.WriteErrorRecord(ps.Streams.Error[e.Index]);
        Volatile.Write(ref s_running, ps);
        try
        {
            if (Volatile.Read(ref s_interrupted) != 0)
            {
                // Ctrl+C arrived before this pipeline existed to be stopped.
                return Interrupted;
            }
            ps.Invoke();
        }
        catch (RuntimeException) when (Volatile.Read(ref s_interrupted) != 0)
        {
            return Interrupted;
        }
        catch (RuntimeException e)
        {
            host.WriteErrorRecord(e.ErrorRecord, e);
            return Terminated;
        }
        finally
        {
            Volatile.Write(ref s_running, null);
        }
        if (Volatile.Read(ref s_interrupted) != 0)
        {
            return Interrupted;
        }
        if (host.ExitCode is { } exitCode)
        {
            return exitCode;
        }
        // A script file's "exit N" ends only the script and lands in $LASTEXITCODE; pwsh -File returns it.
        if (exitCodeFromScript && runspace.SessionStateProxy.GetVariable("LASTEXITCODE") is int scriptExitCode)
        {
            return scriptExitCode;
        }
        return ps.HadErrors ? ErrorsWritten : 0;
    }

    /// <summary>
    /// Passes the arguments the way pwsh -File does: "-Name" is a parameter the binder pairs with the next
    /// argument unless it is a switch, "-Name:value" and "-Name: value" carry their value ("true"/"false"
    /// as booleans, for switches), anything else is positional.
    /// </summary>
    private static void AddScriptFile(PowerShell ps, string file, IReadOnlyList<string> arguments)
    {
        ps.AddCommand(Path.GetFullPath(file));
        var parameters = ps.Commands.Commands[^1].Parameters;
        string? pending = null;
        foreach (var argument in arguments)
        {
            var colon = argument.IndexOf(':', StringComparison.Ordinal);
            if (pending is not null)
            {
                parameters.Add(new CommandParameter(pending, argument));
                pending = null;
            }
            else if (argument.Length < 2 || argument[0] != '-')
            {
                parameters.Add(new CommandParameter(null, argument));
            }
            else if (colon == argument.Length - 1)
            {
                pending = argument[..colon];
            }
            else if (colon > 0)
            {
                var value = argument[(colon + 1)..];
                parameters.Add(new CommandParameter(argument[..colon],
                    bool.TryParse(value.TrimStart('$'), out var flag) ? flag : value));
            }
            else
            {
                parameters.Add(new CommandParameter(argument));
            }
        }
    }

    private static void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = true;
        if (Interlocked.Exchange(ref s_interrupted, 1) != 0)
        {
            // A second Ctrl+C: the user has stopped waiting.
            Environment.Exit(Interrupted);
        }
        Volatile.Read(ref s_running)?.BeginStop(null, null);
        // A cmdlet that ignores StopProcessing must not hold the terminal.
        _ = Task.Delay(StopGrace).ContinueWith(_ => Environment.Exit(Interrupted), TaskScheduler.Default);
    }

    /// <summary>out/IcmpTools under the folder holding IcmpTools.sln, searched upwards from this program.</summary>
    private static string? FindBuiltModule()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "IcmpTools.sln")))
            {
                return Path.Combine(dir.FullName, "out", "IcmpTools");
            }
        }
        return null;
    }
}
