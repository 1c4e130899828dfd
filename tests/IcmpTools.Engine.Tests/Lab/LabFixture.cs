using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>One lab for the engine's lab tests: built once, torn down at the end (and on failure).</summary>
public sealed class LabFixture : IDisposable
{
    private readonly Lazy<NetLab> _lab = new(NetLab.Up);

    /// <summary>The lab; needs root (fails under CI=true without it, skips elsewhere).</summary>
    public NetLab Lab
    {
        get
        {
            LabRequirement.RequireRoot();
            return _lab.Value;
        }
    }

    public void Dispose()
    {
        if (_lab.IsValueCreated)
        {
            _lab.Value.Dispose();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LabGroup : ICollectionFixture<LabFixture>
{
    public const string Name = "Lab";
}
