using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// Proves the namespace lab itself with iputils ping and one raw socket, so a failing engine
/// test in the lab can be told apart from a broken lab.
/// </summary>
public sealed partial class NetLabSelfTests
{
    [SkippableTheory]
    [InlineData("198.18.4.2")]
    [InlineData("2001:db8:4::2")]
    public void PlainTarget_Answers(string target)
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();

        string output = lab.Exec("c", $"ping -n -c 3 -i 0.05 -W 1 {target}");

        Assert.Contains("3 received", output, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("198.18.10.1")]
    [InlineData("2001:db8:10::1")]
    public void DelayTarget_AddsTenMilliseconds(string target)
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();

        string output = lab.Exec("c", $"ping -n -c 3 -i 0.2 -W 1 {target}");

        Match rtt = RttSummary().Match(output);
        Assert.True(rtt.Success, output);
        double min = double.Parse(rtt.Groups["min"].Value, CultureInfo.InvariantCulture);
        Assert.InRange(min, 10.0, 50.0);
    }

    [SkippableTheory]
    [InlineData("198.18.11.1")]
    [InlineData("2001:db8:11::1")]
    public void LossTarget_LosesAboutThirtyPercent(string target)
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();

        string output = lab.Exec("c", $"ping -n -q -c 200 -i 0.01 -W 1 {target}");

        Match loss = LossSummary().Match(output);
        Assert.True(loss.Success, output);
        double percent = double.Parse(loss.Groups["loss"].Value, CultureInfo.InvariantCulture);
        Assert.InRange(percent, 15.0, 45.0);
    }

    [SkippableTheory]
    [InlineData("198.18.12.7", "From 198.18.2.2 ", "Destination Host Unreachable")]
    [InlineData("2001:db8:12::7", "From 2001:db8:2::2 ", "Destination unreachable: No route")]
    public void UnreachableTarget_R2SendsDestinationUnreachable(string target, string from, string message)
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();

        // More than the kernel's host-wide route.error_cost burst (5): every probe must get its error.
        string output = lab.Exec("c", $"ping -n -c 10 -i 0.01 -W 1 {target}; true");

        string[] errors = output.Split('\n').Where(line => line.StartsWith(from, StringComparison.Ordinal)).ToArray();
        Assert.Equal(10, errors.Length);
        Assert.All(errors, line => Assert.Contains(message, line, StringComparison.Ordinal));
    }

    [SkippableTheory]
    [InlineData("198.18.13.1")]
    [InlineData("2001:db8:13::1")]
    [InlineData("198.18.20.128")]
    [InlineData("2001:db8:20::80")]
    public void BlackholedTarget_GivesNeitherReplyNorError(string target)
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();

        string output = lab.Exec("c", $"ping -n -c 2 -i 0.05 -W 0.3 {target}; true");

        Assert.Contains("2 packets transmitted, 0 received", output, StringComparison.Ordinal);
        Assert.DoesNotContain("From ", output, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("198.19.0.1")]
    [InlineData("198.19.255.254")]
    [InlineData("198.18.20.0")]
    [InlineData("198.18.20.127")]
    [InlineData("2001:db8:ff::ffff")]
    [InlineData("2001:db8:20::7f")]
    public void SweepBlocks_Answer(string target)
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();

        string output = lab.Exec("c", $"ping -n -c 1 -W 1 {target}");

        Assert.Contains("1 received", output, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SilentRouter_SendsNoTimeExceeded()
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();
        const string Probe = "ping -n -c 2 -i 0.05 -W 0.3 -t 3 198.18.4.2; true";

        string loud = lab.Exec("c", Probe);
        lab.SetSilent("r3", true);
        string silent = lab.Exec("c", Probe);
        lab.SetSilent("r3", false);
        string loudAgain = lab.Exec("c", Probe);

        Assert.Contains("From 198.18.3.2 icmp_seq=1 Time to live exceeded", loud, StringComparison.Ordinal);
        Assert.DoesNotContain("From ", silent, StringComparison.Ordinal);
        Assert.Contains("Time to live exceeded", loudAgain, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SparseBlock_OnlyEveryHundredthAddressAnswers()
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();
        // One ping each; "; true" because ping exits 1 when an address does not answer.
        string Ping(string target) => lab.Exec("c", $"ping -n -c 1 -W 0.5 {target}; true");

        lab.SetSparse(true);
        string[] sparse = ["198.19.0.100", "198.19.255.220", "2001:db8:ff::64", "198.19.0.101", "198.19.255.254", "2001:db8:ff::65"];
        var during = sparse.Select(Ping).ToArray();
        lab.SetSparse(false);
        string after = Ping("198.19.0.101");

        Assert.All(during[..3], output => Assert.Contains("1 received", output, StringComparison.Ordinal));
        Assert.All(during[3..], output => Assert.Contains("0 received", output, StringComparison.Ordinal));
        Assert.Contains("1 received", after, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void InClient_SocketsBelongToTheClientNamespace()
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();

        string[] names = lab.InClient(() =>
            NetworkInterface.GetAllNetworkInterfaces().Select(nic => nic.Name).Order(StringComparer.Ordinal).ToArray());

        Assert.Equal(["lo", "to-r1"], names);
    }

    [SkippableFact]
    public void InClient_RawIcmpEchoReachesTheTarget()
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();
        var target = IPAddress.Parse("198.18.4.2");
        const ushort Identifier = 0x1c3e;

        IPAddress replier = lab.InClient(() =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
            socket.ReceiveTimeout = 1000;
            byte[] request = new byte[16];
            request[0] = 8;
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), Identifier);
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), 1);
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), Packets.Reference.Checksum(request));
            socket.SendTo(request, new IPEndPoint(target, 0));

            byte[] buffer = new byte[1500];
            for (int i = 0; i < 16; i++)
            {
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                int length = socket.ReceiveFrom(buffer, ref from);
                int headerLength = (buffer[0] & 0x0f) * 4;
                ReadOnlySpan<byte> icmp = buffer.AsSpan(headerLength, length - headerLength);
                if (icmp[0] == 0 && BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]) == Identifier)
                {
                    return ((IPEndPoint)from).Address;
                }
            }

            throw new TimeoutException("No echo reply among the first 16 ICMP packets.");
        });

        Assert.Equal(target, replier);
    }

    [SkippableFact]
    public void InClient_RethrowsTheActionsException()
    {
        LabRequirement.RequireRoot();
        using NetLab lab = NetLab.Up();

        var thrown = Assert.Throws<InvalidDataException>(() => lab.InClient<int>(() => throw new InvalidDataException("from the namespace")));

        Assert.Equal("from the namespace", thrown.Message);
    }

    [SkippableFact]
    public void Dispose_RemovesTheNamespaces()
    {
        LabRequirement.RequireRoot();
        NetLab lab = NetLab.Up();
        string name = lab.Name;
        Assert.True(File.Exists($"/run/netns/{name}-c"));

        lab.Dispose();

        Assert.Empty(Directory.GetFiles("/run/netns", $"{name}-*"));
    }

    [GeneratedRegex(@"rtt min/avg/max/mdev = (?<min>[0-9.]+)/")]
    private static partial Regex RttSummary();

    [GeneratedRegex(@"(?<loss>[0-9.]+)% packet loss")]
    private static partial Regex LossSummary();
}
