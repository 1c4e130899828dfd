using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace IcmpTools.Tests;

/// <summary>An in-process PowerShell with the built module (out/IcmpTools) imported, as a user would have it.</summary>
public sealed class PowerShellSession : IDisposable
{
    private readonly Runspace _runspace;

    public PowerShellSession()
    {
        var state = InitialSessionState.CreateDefault2();
        // A hosted runspace has no $PSHOME modules: load the utility (Out-String, Export-Csv, ...) and
        // management (Get-Content) cmdlets from their assemblies.
        state.ImportPSModule(typeof(Microsoft.PowerShell.Commands.ConvertToJsonCommand).Assembly.Location,
            typeof(Microsoft.PowerShell.Commands.GetContentCommand).Assembly.Location);
        _runspace = RunspaceFactory.CreateRunspace(state);
        _runspace.Open();
        var imported = Invoke($"Import-Module '{ModuleManifest}' -PassThru");
        if (Errors.Count > 0 || imported.Count != 1)
        {
            throw new InvalidOperationException($"Import-Module failed: {string.Join("; ", Errors)}");
        }
    }

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "IcmpTools.sln")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("IcmpTools.sln not found above the test binaries.");
        }
    }

    public static string ModuleManifest => Path.Combine(RepoRoot, "out", "IcmpTools", "IcmpTools.psd1");

    public Collection<ErrorRecord> Errors { get; private set; } = [];

    public Collection<ProgressRecord> Progress { get; private set; } = [];

    public Collection<VerboseRecord> Verbose { get; private set; } = [];

    public Collection<DebugRecord> Debug { get; private set; } = [];

    public Collection<PSObject> Invoke(string script)
    {
        using var ps = PowerShell.Create();
        ps.Runspace = _runspace;
        ps.AddScript(script);
        var output = ps.Invoke();
        Errors = ps.Streams.Error.ReadAll();
        Progress = ps.Streams.Progress.ReadAll();
        Verbose = ps.Streams.Verbose.ReadAll();
        Debug = ps.Streams.Debug.ReadAll();
        return output;
    }

    /// <summary>Hands objects built in C# (hosts no network could produce on loopback) to the session's scripts.</summary>
    public void SetVariable(string name, object? value) => _runspace.SessionStateProxy.SetVariable(name, value);

    /// <summary>Runs a script asynchronously so a test can stop it (Ctrl+C) midway.</summary>
    public PowerShell Start(string script, PSDataCollection<PSObject> output)
    {
        var ps = PowerShell.Create();
        ps.Runspace = _runspace;
        ps.AddScript(script);
        ps.BeginInvoke<PSObject, PSObject>(null, output);
        return ps;
    }

    public void Dispose() => _runspace.Dispose();
}
