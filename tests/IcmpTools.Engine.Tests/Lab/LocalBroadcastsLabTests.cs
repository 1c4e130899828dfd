using System.Net;
using IcmpTools.Engine.Sockets;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// The broadcast addresses a prober reads when it opens: on Linux from getifaddrs, the same set .NET's
/// NetworkInterface gives (which Windows still uses), in the lab's client namespace (198.18.1.2/24 on to-r1).
/// </summary>
[Collection(LabGroup.Name)]
public sealed class LocalBroadcastsLabTests(LabFixture fixture)
{
    [SkippableFact]
    public void GetifaddrsFindsTheSameBroadcastsAsNetworkInterface()
    {
        Skip.IfNot(OperatingSystem.IsLinux());
        var (kernel, portable, read) = fixture.Lab.InClient(() =>
            (LocalBroadcasts.ReadInterfaceAddresses(), LocalBroadcasts.ReadNetworkInterfaces(), LocalBroadcasts.Read()));

        Assert.Contains(IPAddress.Parse("198.18.1.255"), kernel);
        Assert.Equal(portable.OrderBy(a => a.ToString()), kernel.OrderBy(a => a.ToString()));
        Assert.True(read.Contains(IPAddress.Parse("198.18.1.255")));
        Assert.False(read.Contains(IPAddress.Parse("198.18.1.2")));
    }
}
