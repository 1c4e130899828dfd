namespace IcmpTools;

/// <summary>Every ErrorId the cmdlets raise, in one place, so scripts can match FullyQualifiedErrorId.</summary>
public static class ErrorIds
{
    public const string NameResolutionFailed = nameof(NameResolutionFailed);
    public const string InvalidSourceAddress = nameof(InvalidSourceAddress);
    public const string SocketPermissionDenied = nameof(SocketPermissionDenied);
    public const string SocketUnavailable = nameof(SocketUnavailable);
    public const string InvalidTarget = nameof(InvalidTarget);
    public const string InvalidRange = nameof(InvalidRange);
    public const string BlockTooLarge = nameof(BlockTooLarge);
    /// <summary>Test-IcmpEcho was given a CIDR block or a range: it pings single hosts; the sweep takes blocks.</summary>
    public const string TargetIsBlock = nameof(TargetIsBlock);
    public const string ConflictingParameters = nameof(ConflictingParameters);
    public const string FamilyMismatch = nameof(FamilyMismatch);
    public const string UnexpectedFailure = nameof(UnexpectedFailure);
    public const string PlatformNotSupported = nameof(PlatformNotSupported);
    public const string TransportCapabilityMissing = nameof(TransportCapabilityMissing);
    public const string BroadcastNotAllowed = nameof(BroadcastNotAllowed);
    public const string InvalidParameterValue = nameof(InvalidParameterValue);
}
