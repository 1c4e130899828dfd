using System.Net.Sockets;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Sockets;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets;

/// <summary>
/// The one place every transport opens its ICMP sockets. The refusals it turns into SocketPermissionException are
/// tested where a real refusal can be arranged: DatagramLabTests (ping_group_range) and the Pester suite (no
/// CAP_NET_RAW).
/// </summary>
public sealed class IcmpSocketsTests
{
    [Fact]
    public void ASocketTheStackCannotOpenIsUnavailableNamingItsKindAndFamilyWithoutAskingForPermissionAdvice()
    {
        var adviceAsked = false;

        var failure = Assert.Throws<SocketUnavailableException>(() => IcmpSockets.Open(IcmpFamily.IPv6, SocketType.Seqpacket, () =>
        {
            adviceAsked = true;
            return "advice";
        }));

        Assert.Contains("Could not open a Seqpacket IPv6 ICMP socket", failure.Message, StringComparison.Ordinal);
        Assert.IsType<SocketException>(failure.InnerException);
        Assert.False(adviceAsked);
    }

    [Fact]
    public void TheSocketHasTheFamilyKindAndProtocolAsked()
    {
        try
        {
            using var socket = IcmpSockets.Open(IcmpFamily.IPv6, SocketType.Raw, static () => "advice");
            Assert.Equal(AddressFamily.InterNetworkV6, socket.AddressFamily);
            Assert.Equal(SocketType.Raw, socket.SocketType);
            Assert.Equal(ProtocolType.IcmpV6, socket.ProtocolType);
        }
        catch (SocketPermissionException e)
        {
            // Without CAP_NET_RAW the refusal must carry the advice given.
            Assert.Equal("advice", e.Message);
        }
    }
}
