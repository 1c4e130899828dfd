using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IcmpTools.Engine.Sockets.Windows;

/// <summary>IP_OPTION_INFORMATION (x64: four bytes, then the options pointer aligned to 8).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IpOptionInformation
{
    /// <summary>IP_FLAG_DF: set Don't Fragment.</summary>
    public const byte DontFragmentFlag = 0x02;

    public byte Ttl;
    public byte Tos;
    public byte Flags;
    public byte OptionsSize;
    public nint OptionsData;
}

/// <summary>The few iphlpapi.dll calls the request/response transport needs (icmpapi.h).</summary>
[SupportedOSPlatform("windows")]
internal static unsafe partial class IpHelperApi
{
    private const string Library = "iphlpapi.dll";

    /// <summary>ERROR_IO_PENDING: an asynchronous request was accepted.</summary>
    public const int ErrorIoPending = 997;

    public static readonly nint InvalidHandle = -1;

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint IcmpCreateFile();

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint Icmp6CreateFile();

    [LibraryImport(Library, SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool IcmpCloseHandle(nint icmpHandle);

    /// <summary>
    /// Sends one IPv4 echo request. With an event it returns 0 at once with ERROR_IO_PENDING and sets the event
    /// when the reply buffer holds the answer (or the status of its failure).
    /// </summary>
    [LibraryImport(Library, SetLastError = true)]
    public static partial uint IcmpSendEcho2Ex(nint icmpHandle, nint eventHandle, nint apcRoutine, nint apcContext,
        uint sourceAddress, uint destinationAddress, void* requestData, ushort requestSize, IpOptionInformation* requestOptions,
        void* replyBuffer, uint replySize, uint timeout);

    /// <summary>The IPv6 form: addresses as sockaddr_in6; the options' Ttl is the hop limit.</summary>
    [LibraryImport(Library, SetLastError = true)]
    public static partial uint Icmp6SendEcho2(nint icmpHandle, nint eventHandle, nint apcRoutine, nint apcContext,
        void* sourceAddress, void* destinationAddress, void* requestData, ushort requestSize, IpOptionInformation* requestOptions,
        void* replyBuffer, uint replySize, uint timeout);

}
