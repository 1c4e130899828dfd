namespace IcmpTools.Engine.Errors;

/// <summary>A target or source whose address family contradicts what was asked (-IPv6 with an IPv4 literal).</summary>
public sealed class AddressFamilyMismatchException : IcmpException
{
    public AddressFamilyMismatchException() { }
    public AddressFamilyMismatchException(string message) : base(message) { }
    public AddressFamilyMismatchException(string message, Exception innerException) : base(message, innerException) { }
}
