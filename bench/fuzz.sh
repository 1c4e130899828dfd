#!/usr/bin/env bash
# Fuzzes every decoder entry point (tests/IcmpTools.Fuzz: parser, raw, datagram, errqueue, prober) with
# afl-fuzz through SharpFuzz, each for a fixed budget, and reports executions and findings per target.
#   bench/fuzz.sh [target ...]         FUZZ_SECONDS=600 per target (the default); e.g. FUZZ_SECONDS=60 for a smoke run
# Findings (inputs that threw or hung) are copied to bench/results/fuzz/findings/<target>/; each becomes a
# regression test by saving it as tests/IcmpTools.Fuzz/corpus/<target>/finding-<name> (FuzzCorpusTests
# replays that folder) once the decoder is fixed. Exits 1 when anything was found. Needs afl++ (Debian).
# No network: the targets only decode bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-600}
if [ $# -gt 0 ]; then targets=("$@"); else targets=(parser raw datagram errqueue prober); fi
out=bench/results/fuzz
bin=$out/bin

if ! command -v afl-fuzz >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q afl++ >/dev/null
    else
        echo "afl-fuzz is missing: apt-get install afl++" >&2
        exit 2
    fi
fi

dotnet tool restore >/dev/null
rm -rf "$bin"
dotnet publish tests/IcmpTools.Fuzz -c Release -o "$bin" --nologo -v quiet
# Only the engine is instrumented: coverage of what decodes the bytes, not of the harness or the runtime.
dotnet sharpfuzz "$bin/IcmpTools.Engine.dll"

# dotnet itself is not an afl binary (SharpFuzz speaks afl's protocol from managed code); no UI, no CPU
# pinning (a shared machine), no core_pattern requirement; -V ends each run after its budget.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1

report=$out/report.txt
printf '%-9s %12s %10s %8s %8s %6s\n' target executions execs/s paths crashes hangs | tee "$report"
found=0
for target in "${targets[@]}"; do
    findings=$out/$target
    rm -rf "$findings"
    # -t: a generous per-input limit in ms (a loaded shared machine); the outer timeout is the backstop.
    timeout --kill-after=30 $((seconds + 120)) \
        afl-fuzz -V "$seconds" -t 5000 -m none -i "tests/IcmpTools.Fuzz/corpus/$target" -o "$findings" \
        -- dotnet "$bin/IcmpTools.Fuzz.dll" "$target" >"$out/$target.log" 2>&1 || true
    stats=$findings/default/fuzzer_stats
    if [ ! -f "$stats" ]; then
        echo "$target: afl-fuzz did not start; see $out/$target.log" | tee -a "$report"
        found=1
        continue
    fi
    stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
    crashes=$(stat saved_crashes); hangs=$(stat saved_hangs)
    printf '%-9s %12s %10s %8s %8s %6s\n' "$target" "$(stat execs_done)" "$(stat execs_per_sec)" "$(stat corpus_count)" \
        "$crashes" "$hangs" | tee -a "$report"
    if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
        found=1
        mkdir -p "$out/findings/$target"
        cp "$findings"/default/crashes/id:* "$findings"/default/hangs/id:* "$out/findings/$target/" 2>/dev/null || true
    fi
done
echo "budget ${seconds}s per target; findings (if any) in $out/findings" | tee -a "$report"
exit "$found"
