namespace IcmpTools.Engine.Errors;

/// <summary>Why a sweep target could not be expanded.</summary>
public enum InvalidTargetReason
{
    /// <summary>Not an address, a block, a range or a name.</summary>
    Malformed,
    /// <summary>A range whose end comes before its start.</summary>
    ReversedRange,
    /// <summary>A block so large it needs an explicit confirmation.</summary>
    TooLarge,
}

/// <summary>A sweep target that is not usable as written; the message names it.</summary>
public sealed class InvalidTargetException : IcmpException
{
    public InvalidTargetException() { }
    public InvalidTargetException(string message) : base(message) { }
    public InvalidTargetException(string message, Exception innerException) : base(message, innerException) { }
    public InvalidTargetException(string target, InvalidTargetReason reason, string message) : base(message)
    {
        Target = target;
        Reason = reason;
    }

    public string? Target { get; }
    public InvalidTargetReason Reason { get; }
}
