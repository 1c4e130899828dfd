using IcmpTools.Engine.Errors;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// The platform seam: the Linux transports use Linux system calls (sendmmsg/recvmmsg, eventfd, the error queue,
/// SO_TIMESTAMPNS); Windows has its own (Sockets/Windows: iphlpapi and raw Winsock). Elsewhere the engine stops at
/// once with a clear error rather than an obscure interop failure; what macOS needs is in the README ("Other platforms").
/// </summary>
public static class PlatformSupport
{
    public static bool IsSupported => OperatingSystem.IsLinux() || OperatingSystem.IsWindows();

    /// <exception cref="IcmpPlatformNotSupportedException">Neither Linux nor Windows.</exception>
    public static void ThrowIfUnsupported()
    {
        if (IsSupported)
        {
            return;
        }
        if (OperatingSystem.IsMacOS())
        {
            throw new IcmpPlatformNotSupportedException(
                "IcmpTools does not support macOS yet: its sockets use Linux system calls (sendmmsg/recvmmsg, eventfd, " +
                "IP_RECVERR). macOS has datagram ICMP sockets for every user, but with another sockaddr layout, no batched " +
                "calls and no error queue; see the README's 'Other platforms'.");
        }
        throw new IcmpPlatformNotSupportedException(
            $"IcmpTools supports Linux and Windows only; this is {System.Runtime.InteropServices.RuntimeInformation.OSDescription}.");
    }
}
