#!/usr/bin/env bash
# Which native library asks glibc for memory in a running process: attaches gdb, breaks on malloc for a
# fixed number of calls (the process pauses at each), and sums calls and bytes by who asked: the JIT when
# libclrjit is on the call's stack (often through the runtime's allocator), else the runtime when libcoreclr
# is, else other. Written for
# issue 14, to tell who fills the glibc arenas that bench/soak.ps1 shows growing while their bytes in use
# stay flat. Not CI; needs gdb (Debian) and root or ptrace rights over the process. Sends no traffic.
#   bench/malloc-callers.sh <pid> [calls]     calls: 4000 by default
set -euo pipefail

pid=${1:?usage: bench/malloc-callers.sh <pid> [calls]}
calls=${2:-4000}
command -v gdb >/dev/null || { echo "gdb is not installed (apt-get install gdb)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The runtime uses signals of its own (GC suspension, activation injection): gdb passes them on silently.
# After the last counted call gdb removes the breakpoint and detaches, so the process runs on as before.
cat > "$work/commands" <<EOF
set pagination off
set confirm off
handle all nostop noprint pass
set \$n = 0
break malloc
commands
silent
set \$n = \$n + 1
printf "SZ %lu\n", \$rdi
bt 8
if \$n >= $calls
  delete
  detach
  quit
end
continue
end
continue
EOF
# Bounded in time as well: a process that stops calling malloc does not hold gdb (or itself) forever.
timeout 600 gdb -p "$pid" -batch -x "$work/commands" > "$work/out" 2>&1 || true

awk '
    /^SZ / { flush(); size = $2; owner = "other"; n++; next }
    /^#/ && /libclrjit\.so/ { owner = "libclrjit (JIT)" }
    /^#/ && owner == "other" && /libcoreclr\.so/ { owner = "libcoreclr (runtime)" }
    function flush() { if (size != "") { count[owner]++; bytes[owner] += size; total += size; if (size >= 65536) large[owner]++ } size = "" }
    END {
        flush()
        printf "%d malloc calls, %d bytes\n", n, total
        printf "%-22s %8s %12s %6s %10s\n", "owner", "calls", "bytes", "share", ">= 64 KB"
        for (o in count) printf "%-22s %8d %12d %5.0f%% %10d\n", o, count[o], bytes[o], total ? 100 * bytes[o] / total : 0, large[o]
    }' "$work/out"
