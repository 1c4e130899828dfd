using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.Versioning;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using IcmpTools.Engine.Sockets.Windows;
using Xunit;

namespace IcmpTools.Engine.WindowsTests;

/// <summary>The selection rules as on Linux, and -Interface the Windows way (alias or ifIndex).</summary>
[SupportedOSPlatform("windows")]
public sealed class SelectionTests
{
    [Fact]
    public void AnElevatedSessionGetsTheRawSocketAndUnprivilegedForcesIphlpapi()
    {
        // These tests run as root under Wine (or elevated on Windows), where a raw socket may be opened.
        using (var elevated = IcmpSocket.Open(IcmpFamily.IPv4))
        {
            Assert.True(elevated.IsPrivileged);
        }
        using var unprivileged = IcmpSocket.Open(IcmpFamily.IPv4, unprivileged: true);
        Assert.False(unprivileged.IsPrivileged);
        using var lease = ProberPool.AcquireAuto(new ProberKey(IcmpFamily.IPv4), unprivileged: true);
        Assert.Equal(SocketKind.Datagram, lease.Prober.Kind);
        Assert.False(lease.Prober.Capabilities.SupportsParis);
    }

    [Fact]
    public async Task AnUnprivilegedSocketSendsAndReceivesOverIphlpapi()
    {
        using var socket = IcmpSocket.Open(IcmpFamily.IPv4, unprivileged: true);
        var request = new Request("127.0.0.1", IcmpFamily.IPv4, identifier: 0x4854, sequence: 3, payloadSize: 32, ttl: 64,
            trafficClass: 0, DateTime.UtcNow);

        socket.Send(request);
        var reply = await Task.Run(() => socket.Receive(request, 5), TestContext.Current.CancellationToken);

        Assert.Equal(IcmpStatus.Success, reply.Status);
        Assert.Equal("127.0.0.1", reply.Source);
    }

    [Fact]
    public void TheLoopbackInterfaceIsFoundByItsAliasAndByItsIndex()
    {
        var loopback = NetworkInterface.GetAllNetworkInterfaces().First(n => n.NetworkInterfaceType == NetworkInterfaceType.Loopback);
        var index = loopback.GetIPProperties().GetIPv4Properties().Index;

        var byName = WindowsInterface.Resolve(loopback.Name, IcmpFamily.IPv4);
        var byIndex = WindowsInterface.Resolve(index.ToString(System.Globalization.CultureInfo.InvariantCulture), IcmpFamily.IPv4);

        Assert.Equal(index, byName.Index);
        Assert.Equal(byName, byIndex);
        Assert.Equal(IPAddress.Loopback, byName.Address);
        var error = Assert.Throws<SocketUnavailableException>(() => WindowsInterface.Resolve("no such interface", IcmpFamily.IPv4));
        Assert.Contains("no such interface", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(WindowsTransport.IpHelper)]
    [InlineData(WindowsTransport.RawWinsock)]
    public void BothTransportsSendFromTheInterfaceNamedByIndex(WindowsTransport kind)
    {
        var loopback = NetworkInterface.GetAllNetworkInterfaces().First(n => n.NetworkInterfaceType == NetworkInterfaceType.Loopback);
        var index = loopback.GetIPProperties().GetIPv4Properties().Index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var prober = new Prober(kind == WindowsTransport.IpHelper
            ? new IpHelperTransport(IcmpFamily.IPv4, interfaceName: index)
            : new WinsockRawTransport(IcmpFamily.IPv4, interfaceName: index));
        using var outcomes = new Outcomes();

        prober.Send([Transports.Probe("127.0.0.1", 1)], outcomes);

        Assert.Equal(IcmpStatus.Success, outcomes.WaitFor(1)[0].Status);
    }
}
