# wine.sh: what every Wine run here shares (sourced by run-wine-tests.sh and bench/windows/run.sh).
#
#   wine_prefix_up          find wine64, make a fresh prefix in a temporary folder and boot it
#   wine_host_publish       publish the Windows PowerShell host to out/winhost (once; incremental after)
#   wine_host NAME ARGS...  run WinPwshHost.exe ARGS (Windows paths) with a time bound; in the network
#                           namespace $NETNS when set, without CAP_NET_RAW when $UNELEVATED is set
#   wine_stop               stop the prefix's wineserver (the next program starts a new one, in its namespace)
#   wine_prefix_down        stop Wine and remove the prefix
#   winpath PATH            the Windows path (Z:\...) of a Linux path
#
# Callers set WINE_ROOT (the repo root) first and call wine_prefix_down from their EXIT trap.

# Generous bounds for a loaded machine: they only stop a hung Wine, they time nothing.
WINE_BOOT_TIMEOUT=600
WINE_RUN_TIMEOUT="${WINE_RUN_TIMEOUT:-900}"
WINE_HOST_DIR="$WINE_ROOT/out/winhost"
WINEPREFIX=""

winpath() { printf 'Z:%s' "${1//\//\\}"; }

wine_prefix_up() {
    # Debian puts the 64-bit launcher outside PATH.
    WINE="$(command -v wine64 || true)"
    [[ -n "$WINE" ]] || WINE=/usr/lib/wine/wine64
    [[ -x "$WINE" ]] || { echo "wine64 is not installed (apt-get install wine64)" >&2; return 1; }
    WINESERVER="$(dirname "$WINE")/wineserver"
    [[ -x "$WINESERVER" ]] || WINESERVER="$(command -v wineserver)"
    # A prefix of our own: a fresh machine has none, and a shared one would share its wineserver (and with
    # it the network namespace its sockets are made in) with whoever else runs Wine here.
    WINEPREFIX="$(mktemp -d "${TMPDIR:-/tmp}/icmptools-wine.XXXXXX")"
    export WINEPREFIX WINEDEBUG=-all WINEARCH=win64
    # Under Wine 8, .NET's W^X double mapping of JIT code ends in "Internal CLR error (0x80131506)" in a
    # finaliser once PowerShell has compiled a few dynamic methods; Windows itself does not need this.
    export DOTNET_EnableWriteXorExecute=0
    # Prefix creation takes a while on a fresh machine. Wine would offer to download Mono and Gecko (a
    # dialog, or a hang with no display): mscoree and mshtml are off while it boots, and only then, since
    # Wine hands .NET assemblies to mscoree when a program loads them as modules.
    echo "wine: creating the prefix $WINEPREFIX"
    WINEDLLOVERRIDES="mscoree,mshtml=" timeout -k 10 "$WINE_BOOT_TIMEOUT" "$WINE" wineboot --init </dev/null
    # .NET 10 needs Windows 10 or later; Wine 8's new prefixes say Windows 7.
    timeout -k 10 "$WINE_BOOT_TIMEOUT" "$WINE" winecfg -v win10 </dev/null
    # An unhandled exception on a thread .NET does not own (a fault inside Wine's own code: the bench's fan-out of
    # 4,094 Ping.SendPingAsync calls now and then faults in ntdll's heap code) starts the prefix's debugger, and
    # Wine's `winedbg --auto` then printed its report and let the program end with exit code 0, or hung attaching
    # to it until the run's time bound. A "debugger" that attaches to nothing and exits ends the program at once,
    # with a failing exit code (5 here) that the caller sees. Managed faults are .NET's own "Fatal error" either way.
    timeout -k 10 "$WINE_BOOT_TIMEOUT" "$WINE" reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' \
        /v Debugger /t REG_SZ /d 'C:\windows\system32\cmd.exe /c exit 1' /f </dev/null >/dev/null
    "$WINESERVER" -w
    export WINEDLLOVERRIDES="mshtml="
}

wine_host_publish() {
    echo "wine: publishing the Windows PowerShell host to $WINE_HOST_DIR"
    dotnet publish "$WINE_ROOT/tests/windows/WinPwshHost/WinPwshHost.csproj" -c Release -o "$WINE_HOST_DIR" --nologo -v quiet
}

wine_host() {
    local name="$1"; shift
    local cmd=("$WINE" "$WINE_HOST_DIR/WinPwshHost.exe" "$@")
    if [[ -n "${UNELEVATED:-}" ]]; then cmd=(setpriv --bounding-set=-net_raw --inh-caps=-net_raw "${cmd[@]}"); fi
    if [[ -n "${NETNS:-}" ]]; then cmd=(ip netns exec "$NETNS" "${cmd[@]}"); fi
    echo "wine: $name in ${NETNS:-the root namespace}${UNELEVATED:+, without CAP_NET_RAW}"
    local rc=0
    timeout -k 10 "$WINE_RUN_TIMEOUT" "${cmd[@]}" </dev/null || rc=$?
    # The next run may be in another namespace: its sockets must come from a wineserver started there.
    wine_stop
    return "$rc"
}

wine_stop() {
    "$WINESERVER" -k 2>/dev/null || true
    "$WINESERVER" -w 2>/dev/null || true
}

wine_prefix_down() {
    [[ -n "$WINEPREFIX" ]] || return 0
    wine_stop
    # run-engine-tests.sh serialises its runs with a lock file beside the prefix.
    rm -rf "$WINEPREFIX" "$WINEPREFIX.lock"
}
