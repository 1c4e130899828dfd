using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Reflection;
using System.Security;

namespace IcmpTools.Shell;

/// <summary>
/// A non-interactive console host. Unlike pwsh, warnings, verbose and debug go to stderr with errors, so
/// that stdout holds only output; progress goes to stderr only when it is a terminal. With JSON output,
/// stdout carries nothing but JSON, so host writes (Write-Host, Out-Host) move to stderr as well.
/// Write-Host colours are dropped; $PSStyle escapes (table headers) reach a terminal only.
/// </summary>
internal sealed class ShellHost : PSHost
{
    private readonly ShellHostUI _ui;

    public ShellHost(bool json) => _ui = new ShellHostUI(json ? Console.Error : Console.Out);

    /// <summary>The code a script asked for with <c>exit N</c>.</summary>
    public int? ExitCode { get; private set; }

    public override string Name => "IcmpTools.Shell";
    public override Version Version { get; } = Assembly.GetExecutingAssembly().GetName().Version ?? new Version(0, 1);
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override CultureInfo CurrentCulture => CultureInfo.CurrentCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.CurrentUICulture;
    public override PSHostUserInterface UI => _ui;

    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;
    public override void EnterNestedPrompt() => throw NonInteractive();
    public override void ExitNestedPrompt() => throw NonInteractive();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }

    /// <summary>Prints an error the way pwsh's NormalView does: message, position, category, FullyQualifiedErrorId.</summary>
    /// <param name="thrown">The exception that ended the script, when one did: a parse error keeps its positions there.</param>
    public void WriteErrorRecord(ErrorRecord record, Exception? thrown = null) => _ui.WriteErrorLine(Describe(record, thrown));

    private static string Describe(ErrorRecord record, Exception? thrown)
    {
        var message = thrown is ParseException parse
            ? string.Join(Environment.NewLine, parse.Errors.Select(e => e.ToString()))
            : record.ErrorDetails?.Message ?? record.Exception?.Message ?? record.ToString();
        var command = record.InvocationInfo?.MyCommand?.Name;
        var position = record.InvocationInfo?.PositionMessage;
        var text = string.IsNullOrEmpty(command) ? message : $"{command} : {message}";
        if (!string.IsNullOrEmpty(position) && thrown is not ParseException)
        {
            text += Environment.NewLine + position;
        }
        return text + Environment.NewLine +
            $"    + CategoryInfo          : {record.CategoryInfo}" + Environment.NewLine +
            $"    + FullyQualifiedErrorId : {record.FullyQualifiedErrorId}" + Environment.NewLine;
    }

    internal static PSInvalidOperationException NonInteractive() =>
        new("IcmpTools.Shell is non-interactive: it cannot prompt. Pass every mandatory parameter.");
}

internal sealed class ShellHostUI : PSHostUserInterface
{
    private readonly TextWriter _out;
    private readonly ShellRawUI _rawUI = new();
    private readonly Lock _gate = new();
    private int _progressWidth;

    public ShellHostUI(TextWriter output) => _out = output;

    public override PSHostRawUserInterface RawUI => _rawUI;

    public override void Write(string value) => Emit(_out, value);
    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Emit(_out, value);
    public override void WriteLine(string value) => Emit(_out, value + Environment.NewLine);
    public override void WriteErrorLine(string value) => Emit(Console.Error, value + Environment.NewLine);
    public override void WriteWarningLine(string message) => Emit(Console.Error, $"WARNING: {message}{Environment.NewLine}");
    public override void WriteVerboseLine(string message) => Emit(Console.Error, $"VERBOSE: {message}{Environment.NewLine}");
    public override void WriteDebugLine(string message) => Emit(Console.Error, $"DEBUG: {message}{Environment.NewLine}");

    /// <summary>One line on stderr, redrawn in place; nothing when stderr is a file or a pipe, so logs stay clean.</summary>
    public override void WriteProgress(long sourceId, ProgressRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (Console.IsErrorRedirected)
        {
            return;
        }
        lock (_gate)
        {
            ClearProgress();
            if (record.RecordType == ProgressRecordType.Completed)
            {
                return;
            }
            var line = record.PercentComplete >= 0
                ? $"{record.Activity}: {record.StatusDescription} [{record.PercentComplete}%]"
                : $"{record.Activity}: {record.StatusDescription}";
            line = line.Length < _rawUI.BufferSize.Width ? line : line[..(_rawUI.BufferSize.Width - 1)];
            Console.Error.Write(line);
            _progressWidth = line.Length;
        }
    }

    /// <summary>Colour escapes (table headers, $PSStyle) reach a terminal and are stripped for a file or a pipe, as in pwsh.</summary>
    public override bool SupportsVirtualTerminal => IsTerminal(_out);

    private static bool IsTerminal(TextWriter writer) =>
        writer == Console.Error ? !Console.IsErrorRedirected : !Console.IsOutputRedirected;

    private void Emit(TextWriter writer, string text)
    {
        text = GetOutputString(text, IsTerminal(writer));
        lock (_gate)
        {
            ClearProgress();
            writer.Write(text);
        }
    }

    private void ClearProgress()
    {
        if (_progressWidth > 0)
        {
            Console.Error.Write('\r' + new string(' ', _progressWidth) + '\r');
            _progressWidth = 0;
        }
    }

    public override string ReadLine() => throw ShellHost.NonInteractive();
    public override SecureString ReadLineAsSecureString() => throw ShellHost.NonInteractive();
    public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) =>
        throw ShellHost.NonInteractive();
    public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice) =>
        throw ShellHost.NonInteractive();
    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
        throw ShellHost.NonInteractive();
    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
        PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw ShellHost.NonInteractive();
}

/// <summary>Just enough of a console for the formatter: its width (120 columns when stdout is not a terminal, as for a log).</summary>
internal sealed class ShellRawUI : PSHostRawUserInterface
{
    private const int RedirectedWidth = 120;

    public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
    public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
    public override Coordinates CursorPosition { get; set; }
    public override Coordinates WindowPosition { get; set; }
    public override int CursorSize { get; set; } = 25;
    public override string WindowTitle { get; set; } = "IcmpTools.Shell";
    public override bool KeyAvailable => false;

    public override Size BufferSize
    {
        get => new(Width(), 9999);
        set { }
    }

    public override Size WindowSize
    {
        get => new(Width(), 50);
        set { }
    }

    public override Size MaxWindowSize => WindowSize;
    public override Size MaxPhysicalWindowSize => WindowSize;

    private static int Width()
    {
        if (Console.IsOutputRedirected)
        {
            return RedirectedWidth;
        }
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : RedirectedWidth;
        }
        catch (IOException)
        {
            return RedirectedWidth;
        }
    }

    public override KeyInfo ReadKey(ReadKeyOptions options) => throw ShellHost.NonInteractive();
    public override void FlushInputBuffer() { }
    public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
    public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) =>
        throw new NotSupportedException();
    public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) => throw new NotSupportedException();
    public override void SetBufferContents(Rectangle rectangle, BufferCell fill) => throw new NotSupportedException();
}
