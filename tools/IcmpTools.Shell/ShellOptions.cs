namespace IcmpTools.Shell;

/// <summary>The command line. Like pwsh, everything after -Command is the command and everything after -File's path is the script's.</summary>
internal sealed class ShellOptions
{
    public string? Module { get; private set; }
    public bool Json { get; private set; }
    public string? Command { get; private set; }
    public string? File { get; private set; }
    public IReadOnlyList<string> FileArguments { get; private set; } = [];

    public static bool TryParse(IReadOnlyList<string> args, out ShellOptions options, out string problem)
    {
        options = new ShellOptions();
        problem = "";
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            var hasValue = i + 1 < args.Count;
            if (Is(name, "-Command", "-c"))
            {
                options.Command = hasValue ? string.Join(' ', args.Skip(i + 1)) : null;
                problem = "-Command needs the command text.";
                return options.Command is not null;
            }
            if (Is(name, "-File", "-f"))
            {
                options.File = hasValue ? args[i + 1] : null;
                options.FileArguments = args.Skip(i + 2).ToArray();
                problem = "-File needs the script's path.";
                return options.File is not null;
            }
            if (Is(name, "-Module", "-m") && hasValue)
            {
                options.Module = Path.GetFullPath(args[++i]);
            }
            else if (Is(name, "-OutputFormat", "-o"))
            {
                if (!hasValue || !Is(args[i + 1], "Json", "Text"))
                {
                    problem = "-OutputFormat takes Text or Json.";
                    return false;
                }
                options.Json = Is(args[++i], "Json");
            }
            else
            {
                problem = $"Unexpected argument '{name}'.";
                return false;
            }
        }
        problem = "Give -Command or -File.";
        return false;
    }

    private static bool Is(string arg, params string[] names) =>
        names.Any(n => string.Equals(arg, n, StringComparison.OrdinalIgnoreCase));
}
