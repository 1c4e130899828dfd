using IcmpTools.Engine.Errors;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// The platform seam: the transports use Linux system calls (sendmmsg/recvmmsg, eventfd, the error queue,
/// SO_TIMESTAMPNS), so elsewhere they stop at once with a clear error rather than an obscure interop failure.
/// What macOS and Windows need instead is written down in the README ("Other platforms").
/// </summary>
public static class PlatformSupport
{
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <exception cref="IcmpPlatformNotSupportedException">Not Linux.</exception>
    public static void ThrowIfUnsupported()
    {
        if (OperatingSystem.IsLinux())
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
        if (OperatingSystem.IsWindows())
        {
            throw new IcmpPlatformNotSupportedException(
                "IcmpTools does not support Windows yet: raw ICMP sockets there need Administrator and the unprivileged " +
                "path is IcmpSendEcho2 (iphlpapi), which is not written; see the README's 'Other platforms'. " +
                "Test-Connection works on Windows meanwhile.");
        }
        throw new IcmpPlatformNotSupportedException(
            $"IcmpTools supports Linux only; this is {System.Runtime.InteropServices.RuntimeInformation.OSDescription}.");
    }
}
