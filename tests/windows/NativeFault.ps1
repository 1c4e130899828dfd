# NativeFault.ps1: faults on a thread .NET does not own, as Wine's own code once did under a fan-out of Ping calls
# (bench/windows). run-wine-tests.sh runs it first: the run must end at once with a failing exit code. If it ends
# with 0, or sleeps its minute out and exits 0, a crashed test host could drop its results unseen.
Add-Type -TypeDefinition 'public static class NativeFault { [System.Runtime.InteropServices.DllImport("kernel32.dll")] public static extern System.IntPtr CreateThread(System.IntPtr attributes, System.UIntPtr stack, System.IntPtr start, System.IntPtr parameter, uint flags, out uint id); }'
$id = 0
# A native thread that starts at address 8: an execute fault no managed frame can catch.
$null = [NativeFault]::CreateThread([IntPtr]::Zero, [UIntPtr]::Zero, [IntPtr]8, [IntPtr]::Zero, 0, [ref]$id)
Start-Sleep -Seconds 60
exit 0
