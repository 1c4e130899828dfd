using System.Management.Automation;
using IcmpTools.Engine.Probing;

namespace IcmpTools;

/// <summary>
/// Remove-Module: closes the probers kept open for a next call (Test-IcmpEcho -MtuSize keeps its own a moment), so
/// that no socket or receive thread outlives the module. Probers a running command still holds close as it ends.
/// </summary>
public sealed class ModuleCleanup : IModuleAssemblyCleanup
{
    public void OnRemove(PSModuleInfo psModuleInfo) => ProberPool.CloseIdle();
}
