namespace IcmpTools;

/// <summary>Test-IcmpEcho was given a CIDR block or a range of several addresses: that is a sweep's job.</summary>
public sealed class TargetIsBlockException : ArgumentException
{
    public TargetIsBlockException() { }
    public TargetIsBlockException(string message) : base(message) { }
    public TargetIsBlockException(string message, Exception innerException) : base(message, innerException) { }
}
