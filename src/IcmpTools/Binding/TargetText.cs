namespace IcmpTools.Binding;

/// <summary>
/// How a line of a hosts list is read, as fping reads its target files: blank lines and lines starting with
/// '#' are skipped, and a '#' after the target starts a comment, so <c>Get-Content hosts.txt | Test-IcmpEcho</c>
/// takes an annotated list.
/// </summary>
public static class TargetText
{
    /// <summary>The target on the line, trimmed; false when the line holds none.</summary>
    public static bool TryGetTarget(string? line, out string target)
    {
        var text = line ?? string.Empty;
        var comment = text.IndexOf('#', StringComparison.Ordinal);
        target = (comment >= 0 ? text[..comment] : text).Trim();
        return target.Length > 0;
    }
}
