using System.Management.Automation;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>New-IcmpSocket, New-IcmpRequest and -Interface through in-process PowerShell, on loopback (needs root, as CI is).</summary>
[Collection(SocketsGroup.Name)]
public sealed class IcmpSocketTests
{
    [SkippableFact]
    public void ARequestBuiltInPowerShellIsAnsweredOnItsSocket()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("""
            $s = New-IcmpSocket
            $a = New-IcmpRequest 127.0.0.1 -Identifier 999 -Sequence 1 -PayloadSize 20
            $b = New-IcmpRequest 127.0.0.1 -Identifier 999 -Sequence 2 -Payload ([byte[]](9, 8, 7))
            $s.Send($a); $s.Send($b)
            $s.Receive($b, 2)
            $s.Receive(2)
            $s.Close()
            $s.IsClosed
            """);

        Assert.Empty(ps.Errors);
        Assert.Equal(3, output.Count);
        var second = Assert.IsType<Reply>(output[0].BaseObject);
        var first = Assert.IsType<Reply>(output[1].BaseObject);
        Assert.Equal((2, 8 + 3, 999), (second.Sequence, second.BytesReceived, second.Identifier));
        Assert.Equal((1, 8 + 20), (first.Sequence, first.BytesReceived));
        Assert.All([first, second], r => Assert.True(r.IsPrivileged));
        Assert.True((bool)output[2].BaseObject);
    }

    [SkippableFact]
    public void ReceivingARequestThatWasNeverSentOrOnAClosedSocketIsATypedError()
    {
        LabRequirement.RequireRoot();
        using var socket = IcmpSocket.Open(IcmpFamily.IPv4);
        var request = new Request("127.0.0.1", IcmpFamily.IPv4, 5, 5, 8, 64, 0, DateTime.UtcNow);

        Assert.Throws<ArgumentException>(() => socket.Receive(request, 0.1));
        Assert.Throws<TimeoutExceededException>(() => socket.Receive(0.1));
        Assert.Throws<AddressFamilyMismatchException>(() =>
            socket.Send(new Request("::1", IcmpFamily.IPv6, 5, 5, 8, 64, 0, DateTime.UtcNow)));
        socket.Close();
        Assert.Throws<SocketUnavailableException>(() => socket.Send(request));
        Assert.Throws<SocketUnavailableException>(() => socket.Receive(0.1));
    }

    [SkippableFact]
    public void ReceiveTakesATimeSpanAsWellAsSeconds()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("""
            $s = New-IcmpSocket
            try {
                $a = New-IcmpRequest 127.0.0.1 -Sequence 1
                $b = New-IcmpRequest 127.0.0.1 -Sequence 2
                $s.Send($a); $s.Send($b)
                $s.Receive($a, [timespan]::FromSeconds(2)).Sequence
                $s.Receive([timespan]'00:00:02').Sequence
                $s.Send($a)
                $s.Receive($a, 2).Sequence
            } finally { $s.Close() }
            """);

        Assert.Empty(ps.Errors);
        Assert.Equal([1, 2, 1], output.Select(o => (int)o.BaseObject));
    }

    [SkippableFact]
    public void ARequestSentTwiceHasBothRepliesReceivableByThatRequest()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("""
            $s = New-IcmpSocket
            try {
                $q = New-IcmpRequest 127.0.0.1 -Sequence 7
                $s.Send($q); $s.Send($q)
                $s.Receive($q, 2).Status
                $s.Receive($q, 2).Status
                try { $s.Receive($q, 0.2) } catch { $_.Exception.InnerException.GetType().Name }
            } finally { $s.Close() }
            """);

        Assert.Empty(ps.Errors);
        Assert.Equal(["Success", "Success", "ArgumentException"], output.Select(o => o.BaseObject.ToString()));
    }

    [SkippableFact]
    public void ALongReceiveEndsWhenItsTokenIsCancelled()
    {
        LabRequirement.RequireRoot();
        using var socket = IcmpSocket.Open(IcmpFamily.IPv4);
        using var cancel = new CancellationTokenSource();
        var request = new Request("127.0.0.1", IcmpFamily.IPv4, 5, 5, 8, 64, 0, DateTime.UtcNow);
        socket.Send(request);
        _ = socket.Receive(request, TimeSpan.FromSeconds(5), CancellationToken.None);

        var waiting = Task.Run(() => socket.Receive(TimeSpan.FromHours(1), cancel.Token));
        cancel.Cancel();

        // The bound only keeps a broken build from hanging the run; a working cancel ends the wait at once.
        Assert.True(((IAsyncResult)waiting).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(60)), "the receive did not end");
        Assert.IsAssignableFrom<OperationCanceledException>(waiting.Exception?.InnerException);
    }

    [Theory]
    [InlineData("New-IcmpRequest 127.0.0.1 -Sequence 70000", "ParameterArgumentValidationError")]
    [InlineData("New-IcmpRequest 127.0.0.1 -Ttl 0", "ParameterArgumentValidationError")]
    [InlineData("New-IcmpRequest 127.0.0.1 -Payload 1,2 -PayloadSize 4", ErrorIds.ConflictingParameters)]
    [InlineData("New-IcmpRequest 127.0.0.1 -IPv6", ErrorIds.FamilyMismatch)]
    public void ABadRequestIsRefusedByName(string script, string errorId)
    {
        using var ps = new PowerShellSession();

        Assert.Empty(ps.Invoke(script));

        Assert.StartsWith(errorId, Assert.Single(ps.Errors).FullyQualifiedErrorId, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void TheSocketsSourceIsCheckedAndNamesItsFamily()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var sockets = ps.Invoke("""
            $a = New-IcmpSocket -Source 127.0.0.1; $b = New-IcmpSocket -Source ::1
            $r = New-IcmpRequest ::1 -Sequence 3; $b.Send($r); $b.Receive($r, 2).Source
            $a; $b; $a.Close(); $b.Close()
            """);
        Assert.Empty(ps.Errors);
        Assert.Equal("::1", sockets[0].BaseObject);
        var (v4, v6) = (Assert.IsType<IcmpSocket>(sockets[1].BaseObject), Assert.IsType<IcmpSocket>(sockets[2].BaseObject));
        Assert.Equal((IcmpFamily.IPv4, "127.0.0.1"), (v4.Family, v4.Source));
        Assert.Equal((IcmpFamily.IPv6, "::1"), (v6.Family, v6.Source));

        Assert.Empty(ps.Invoke("New-IcmpSocket -Source nonsense"));
        Assert.StartsWith(ErrorIds.InvalidSourceAddress + ",", Assert.Single(ps.Errors).FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Empty(ps.Invoke("New-IcmpSocket -IPv6 -Source 127.0.0.1"));
        Assert.StartsWith(ErrorIds.InvalidSourceAddress + ",", Assert.Single(ps.Errors).FullyQualifiedErrorId, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void InterfaceBindsEveryCmdletToThatDevice()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var alive = ps.Invoke("Test-IcmpEcho 127.0.0.1 -Interface lo -Count 1 -Quiet");
        Assert.Empty(ps.Errors);
        Assert.True((bool)Assert.Single(alive).BaseObject);

        Assert.Empty(ps.Invoke("Test-IcmpEcho 127.0.0.1 -Interface nosuch0 -Count 1"));
        var missing = Assert.Single(ps.Errors);
        Assert.StartsWith("SocketUnavailable,", missing.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Contains("nosuch0", missing.Exception.Message, StringComparison.Ordinal);
        Assert.Empty(ps.Invoke("New-IcmpSocket -Interface nosuch0"));
        Assert.StartsWith("SocketUnavailable,", Assert.Single(ps.Errors).FullyQualifiedErrorId, StringComparison.Ordinal);
        var sweep = ps.Invoke("(Invoke-IcmpMultiPing 127.0.0.1, 127.0.0.2 -Interface lo -Count 1 | Where-Object IsAlive).Count");
        Assert.Equal(2, (int)Assert.Single(sweep).BaseObject);
    }
}
