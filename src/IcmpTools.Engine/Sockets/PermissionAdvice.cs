using System.Globalization;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// What to tell a user who may open neither kind of ICMP socket, fitted to how this process runs: a native
/// pwsh executable can be given CAP_NET_RAW with setcap, but the pwsh of a <c>dotnet tool install</c> is a
/// script that starts the shared <c>dotnet</c> host, and a capability there would go to every .NET program.
/// net.ipv4.ping_group_range works for every host.
/// </summary>
public static class PermissionAdvice
{
    private const string RangePath = "/proc/sys/net/ipv4/ping_group_range";

    /// <summary>Why a datagram socket was refused, and the sysctl that admits this process's group.</summary>
    public static string DatagramDenied() => "Datagram (unprivileged) ICMP sockets " + DatagramReason() + " " + RangeFix();

    private static string DatagramReason() => string.Format(CultureInfo.InvariantCulture,
        "are not allowed for group {0}: net.ipv4.ping_group_range is '{1}'.", GroupId() ?? "of this process", Range() ?? "unknown");

    /// <summary>Neither a raw nor a datagram socket could be opened: both fixes, the setcap one only where it helps.</summary>
    public static string NeitherAllowed(string? processPath = null)
    {
        processPath ??= Environment.ProcessPath;
        var host = ResolveHost(processPath);
        var reason = "No ICMP socket may be opened: a raw one needs root or CAP_NET_RAW, and datagram (unprivileged) ones "
            + DatagramReason() + " " + RangeFix();
        if (IsSharedDotnetHost(host))
        {
            return string.Format(CultureInfo.InvariantCulture,
                "{0} This PowerShell runs on the shared .NET host '{1}' (a 'dotnet tool' install), so do not setcap it: " +
                "the capability would go to every .NET program. Or run elevated.", reason, host);
        }
        return string.Format(CultureInfo.InvariantCulture,
            "{0} Or give this PowerShell raw sockets: sudo setcap cap_net_raw+ep '{1}'. Or run elevated.", reason, host ?? "pwsh");
    }

    /// <summary>True when the process is the <c>dotnet</c> muxer (the host a 'dotnet tool' pwsh runs in).</summary>
    public static bool IsSharedDotnetHost(string? processPath) =>
        processPath is not null && string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.Ordinal);

    private static string? ResolveHost(string? processPath)
    {
        if (processPath is null)
        {
            return null;
        }
        try
        {
            return new FileInfo(processPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? processPath;
        }
        catch (IOException)
        {
            return processPath;
        }
    }

    private static string RangeFix()
    {
        var gid = GroupId() ?? "GID";
        return string.Format(CultureInfo.InvariantCulture,
            "Allow it: sudo sysctl -w net.ipv4.ping_group_range='{0} {0}' (a file in /etc/sysctl.d keeps it across reboots).", gid);
    }

    private static string? Range()
    {
        try
        {
            return File.ReadAllText(RangePath).Trim().Replace('\t', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The effective group id, from /proc/self/status ("Gid: real effective saved fs").</summary>
    private static string? GroupId()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Gid:", StringComparison.Ordinal))
                {
                    var fields = line[4..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 1 ? fields[1] : null;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }
}
