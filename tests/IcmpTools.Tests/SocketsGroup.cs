using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// Cmdlet tests share the process's prober pool and some assert it is empty afterwards, so they run one
/// class at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SocketsGroup
{
    public const string Name = "Sockets";
}
