#!/usr/bin/env bash
# sshlab.sh: two SSH-remoting vantage points and a client, in network namespaces (see README.md).
#
#   sshlab.sh up NAME PWSH          build NAME-c, NAME-a, NAME-b; start sshd in a and b with PWSH as the
#                                   powershell subsystem; print the state directory (key, known_hosts)
#   sshlab.sh down NAME             stop both sshd and delete the namespaces and the state directory
#   sshlab.sh exec NAME NODE cmd... run cmd inside NAME-NODE (c, a or b)
#
# PWSH is the absolute path of a pwsh executable (the dotnet tool's apphost: Join-Path $PSHOME pwsh).
# Layout: c holds a bridge 198.18.200.1/24 (and 2001:db8:200::1/64) that a (.2, ::2) and b (.3, ::3)
# hang off. a also has 198.18.201.1 on its loopback, which only a itself can reach (c routes
# 198.18.201.0/24 nowhere), so a sweep from a and one from b differ by exactly that address.
# A key pair and host keys are made for each lab; sshd accepts only that key, for root.
# Needs root, iproute2, openssh-server, openssh-client. Traffic never leaves the lab's namespaces.
set -euo pipefail

readonly RUN_ROOT="/run/sshlab"
readonly NODES=(c a b)

die() { echo "sshlab: $*" >&2; exit 1; }

usage() {
    sed -n '3,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

check_name() {
    [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$ ]] || die "bad lab name '$1' (letters, digits, _ . -, at most 32)"
}

check_node() {
    local n
    for n in "${NODES[@]}"; do [[ "$1" == "$n" ]] && return 0; done
    die "bad node '$1' (one of: ${NODES[*]})"
}

ns_exists() { [[ -e "/run/netns/$1" ]]; }

stop_sshd() {
    local pidfile="$1" pid i
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    # Only signal a process that is still an sshd (the pid may have been reused).
    if [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q sshd; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 200; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.01
        done
    fi
    rm -f "$pidfile"
}

cmd_down() {
    local name="$1" dir="$RUN_ROOT/$1" node
    for node in a b; do
        stop_sshd "$dir/sshd-$node.pid"
    done
    for node in "${NODES[@]}"; do
        # Deleting the namespace also ends any session process still inside it with its sockets.
        if ns_exists "$name-$node"; then
            ip netns pids "$name-$node" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
            ip netns del "$name-$node" 2>/dev/null || true
        fi
    done
    rm -rf "${RUN_ROOT:?}/$name"
    for node in "${NODES[@]}"; do
        ns_exists "$name-$node" && die "namespace $name-$node is still there"
    done
    return 0
}

# Write an sshd_config for one vantage point: only this lab's key, only root, no PAM (no login
# session machinery in a namespace), and the powershell subsystem PowerShell's SSH remoting asks for.
write_sshd_config() {
    local dir="$1" node="$2" address="$3" pwsh="$4"
    cat >"$dir/sshd-$node.conf" <<EOF
ListenAddress $address
Port 22
HostKey $dir/host-$node
PidFile $dir/sshd-$node.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
# The subsystem inherits sshd's environment only; dotnet needs to know where the runtime is.
SetEnv DOTNET_ROOT=$(dirname "$(readlink -f "$(command -v dotnet)")") POWERSHELL_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
Subsystem powershell $pwsh -sshs -NoLogo -NoProfile
EOF
}

wait_for_port() {
    local ns="$1" address="$2" i
    for ((i = 0; i < 500; i++)); do
        if ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$address/22" 2>/dev/null; then
            return 0
        fi
        sleep 0.01
    done
    die "sshd in $ns does not listen on $address:22"
}

cmd_up() {
    local name="$1" pwsh="$2" dir="$RUN_ROOT/$1" node
    [[ -x "$pwsh" ]] || die "'$pwsh' is not an executable pwsh"
    for node in "${NODES[@]}"; do
        ns_exists "$name-$node" && die "namespace $name-$node already exists"
    done
    [[ -e "$dir" ]] && die "$dir already exists"
    command -v sshd >/dev/null || [[ -x /usr/sbin/sshd ]] || die "sshd is missing (apt-get install openssh-server)"
    trap 'cmd_down "$name" >/dev/null 2>&1 || true' ERR
    mkdir -p "$dir"
    chmod 700 "$dir"
    # Debian's sshd wants its privilege-separation directory.
    mkdir -p /run/sshd
    chmod 755 /run/sshd

    ssh-keygen -q -t ed25519 -N '' -C "sshlab-$name" -f "$dir/client" >/dev/null
    cp "$dir/client.pub" "$dir/authorized_keys"
    for node in a b; do
        ssh-keygen -q -t ed25519 -N '' -C "sshlab-$name-$node" -f "$dir/host-$node" >/dev/null
    done

    for node in "${NODES[@]}"; do
        ip netns add "$name-$node"
        ip -n "$name-$node" link set lo up
        ip netns exec "$name-$node" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    done
    ip netns exec "$name-c" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    ip -n "$name-c" link add br0 type bridge
    for node in a b; do
        ip link add "sl$$$node" type veth peer name "slp$$$node"
        ip link set "sl$$$node" netns "$name-$node"
        ip link set "slp$$$node" netns "$name-c"
        ip -n "$name-$node" link set "sl$$$node" name to-c
        ip -n "$name-c" link set "slp$$$node" name "to-$node"
        ip -n "$name-c" link set "to-$node" master br0
        ip -n "$name-c" link set "to-$node" up
        ip -n "$name-$node" link set to-c up
    done
    ip -n "$name-c" link set br0 up
    # Links first, then addresses (IPv6 addresses added before carrier are unusable for a while).
    ip -n "$name-c" addr add 198.18.200.1/24 dev br0
    ip -n "$name-c" addr add 2001:db8:200::1/64 dev br0 nodad
    ip -n "$name-a" addr add 198.18.200.2/24 dev to-c
    ip -n "$name-a" addr add 2001:db8:200::2/64 dev to-c nodad
    ip -n "$name-a" addr add 198.18.201.1/32 dev lo
    ip -n "$name-b" addr add 198.18.200.3/24 dev to-c
    ip -n "$name-b" addr add 2001:db8:200::3/64 dev to-c nodad
    ip -n "$name-a" route add default via 198.18.200.1
    ip -n "$name-b" route add default via 198.18.200.1
    ip -n "$name-c" route add blackhole 198.18.201.0/24

    write_sshd_config "$dir" a 198.18.200.2 "$pwsh"
    write_sshd_config "$dir" b 198.18.200.3 "$pwsh"
    for node in a b; do
        ip netns exec "$name-$node" /usr/sbin/sshd -f "$dir/sshd-$node.conf" -E "$dir/sshd-$node.log"
    done
    wait_for_port "$name-c" 198.18.200.2
    wait_for_port "$name-c" 198.18.200.3

    {
        printf '198.18.200.2 %s\n' "$(cut -d' ' -f1,2 "$dir/host-a.pub")"
        printf '198.18.200.3 %s\n' "$(cut -d' ' -f1,2 "$dir/host-b.pub")"
    } >"$dir/known_hosts"
    trap - ERR
    echo "$dir"
}

main() {
    (($# >= 1)) || usage
    local cmd="$1"
    shift
    case "$cmd" in
    up)
        (($# == 2)) || usage
        check_name "$1"
        cmd_up "$1" "$2"
        ;;
    down)
        (($# == 1)) || usage
        check_name "$1"
        cmd_down "$1"
        ;;
    exec)
        (($# >= 3)) || usage
        check_name "$1"
        check_node "$2"
        local ns="$1-$2"
        shift 2
        exec ip netns exec "$ns" "$@"
        ;;
    *) usage ;;
    esac
}

main "$@"
