using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using Xunit;

namespace IcmpTools.Engine.Tests.Models;

/// <summary>Reply.ThrowIfError, icmplib's raise_for_status: the typed exception for each ICMP error, v4 and v6.</summary>
public sealed class ReplyThrowIfErrorTests
{
    private static Reply Make(IcmpFamily family, IcmpStatus status, int type, int code) =>
        new("198.18.4.2", "198.18.1.1", family, 1, 2, type, code, 0, 1.0, 64, DateTime.UnixEpoch, status);

    [Theory]
    [InlineData(IcmpFamily.IPv4, IcmpStatus.DestinationUnreachable, 3, 1, typeof(DestinationUnreachableException), "Destination host unreachable")]
    [InlineData(IcmpFamily.IPv6, IcmpStatus.DestinationUnreachable, 1, 0, typeof(DestinationUnreachableException), "No route to destination")]
    [InlineData(IcmpFamily.IPv4, IcmpStatus.TimeExceeded, 11, 0, typeof(TimeExceededException), "Time to live exceeded")]
    [InlineData(IcmpFamily.IPv6, IcmpStatus.TimeExceeded, 3, 0, typeof(TimeExceededException), "Hop limit exceeded in transit")]
    [InlineData(IcmpFamily.IPv6, IcmpStatus.PacketTooBig, 2, 0, typeof(PacketTooBigException), "Packet too big")]
    [InlineData(IcmpFamily.IPv4, IcmpStatus.ParameterProblem, 12, 0, typeof(ParameterProblemException), "Parameter problem")]
    public void AnIcmpErrorThrowsItsTypedExceptionCarryingTheReply(IcmpFamily family, IcmpStatus status, int type, int code,
        Type expected, string description)
    {
        var reply = Make(family, status, type, code);

        var thrown = Assert.Throws(expected, reply.ThrowIfError);

        var error = Assert.IsAssignableFrom<IcmpErrorMessageException>(thrown);
        Assert.Same(reply, error.Reply);
        Assert.Equal(family, error.Family);
        Assert.Equal(code, error.Code);
        Assert.StartsWith(description, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(IcmpStatus.Success, 0)]
    [InlineData(IcmpStatus.TimedOut, -1)]
    [InlineData(IcmpStatus.SendFailed, -1)]
    public void AnswersThatAreNoIcmpErrorReturnNormally(IcmpStatus status, int type) =>
        Assert.Null(Record.Exception(Make(IcmpFamily.IPv4, status, type, type).ThrowIfError));
}
