using IcmpTools.Fuzz;
using SharpFuzz;

// IcmpTools.Fuzz <target>: one decoder entry point under afl-fuzz (bench/fuzz.sh instruments the engine and runs it).
if (args.Length != 1 || !FuzzTargets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: IcmpTools.Fuzz <{string.Join('|', FuzzTargets.All.Keys)}>");
    return 2;
}
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
});
return 0;
