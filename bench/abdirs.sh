#!/usr/bin/env bash
# bench/abdirs.sh DEST: lays out this checkout's current Release build as two bench/ab16.sh build folders,
# DEST/il (the bench host and out/IcmpTools, the IL module every platform gets) and DEST/r2r (the same host with the
# module's Linux x64 ReadyToRun copy, out/linux-x64/IcmpTools, as out/IcmpTools). The host references the engine
# and loads it before the module does, so r2r's bin/ gets the ReadyToRun IcmpTools.Engine.dll too: otherwise the
# module's copy would never run. Build first (`dotnet pwsh ./build.ps1 -Build` and `dotnet build IcmpTools.sln -c Release`).
# Usage: bash bench/abdirs.sh /tmp/ab && bash bench/ab16.sh /tmp/ab/il /tmp/ab/r2r 3
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$1"
HOST="$ROOT/bench/IcmpTools.Bench/bin/Release/net10.0"
for f in "$HOST/IcmpTools.Bench" "$ROOT/out/IcmpTools/IcmpTools.psd1" "$ROOT/out/linux-x64/IcmpTools/IcmpTools.psd1"; do
    [[ -e "$f" ]] || { echo "abdirs: $f is missing: build first" >&2; exit 1; }
done
rm -rf "$DEST/il" "$DEST/r2r"
for v in il r2r; do
    mkdir -p "$DEST/$v/out"
    cp -r "$HOST" "$DEST/$v/bin"
done
cp -r "$ROOT/out/IcmpTools" "$DEST/il/out/IcmpTools"
cp -r "$ROOT/out/linux-x64/IcmpTools" "$DEST/r2r/out/IcmpTools"
cp "$ROOT/out/linux-x64/IcmpTools/IcmpTools.Engine.dll" "$DEST/r2r/bin/IcmpTools.Engine.dll"
echo "abdirs: $DEST/il and $DEST/r2r"
