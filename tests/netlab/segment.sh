#!/usr/bin/env bash
# segment.sh: one Ethernet segment of namespaces for broadcast tests (see README.md, "Broadcast segment").
#
#   segment.sh up NAME       NAME-c (198.18.100.1/24) and NAME-h1..h3 (.11 .12 .13) on a bridge in NAME-sw;
#                            the hosts answer broadcast echo (icmp_echo_ignore_broadcasts=0), the client does not
#   segment.sh down NAME     delete the namespaces
#
# Needs root and iproute2. Traffic never leaves the namespaces.
set -euo pipefail

readonly HOSTS=(h1 h2 h3)
die() { echo "segment: $*" >&2; exit 1; }

check_name() {
    [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$ ]] || die "bad name '$1' (letters, digits, _ . -, at most 32)"
}

cmd_down() {
    local name="$1" node
    for node in sw c "${HOSTS[@]}"; do
        [[ -e "/run/netns/$name-$node" ]] && ip netns del "$name-$node" 2>/dev/null || true
    done
    for node in sw c "${HOSTS[@]}"; do
        [[ -e "/run/netns/$name-$node" ]] && die "namespace $name-$node is still there"
    done
    return 0
}

# One node on the bridge: a veth whose far end is a bridge port in NAME-sw.
attach() {
    local name="$1" node="$2" address="$3"
    ip netns add "$name-$node"
    ip -n "$name-$node" link set lo up
    ip -n "$name-$node" link add eth0 type veth peer name "p-$node" netns "$name-sw"
    ip -n "$name-sw" link set "p-$node" master br0 up
    ip -n "$name-$node" link set eth0 up
    ip -n "$name-$node" addr add "$address/24" brd + dev eth0
}

cmd_up() {
    local name="$1" i
    for node in sw c "${HOSTS[@]}"; do
        [[ -e "/run/netns/$name-$node" ]] && die "namespace $name-$node already exists"
    done
    trap 'rc=$?; if ((rc != 0)); then cmd_down "'"$name"'" >/dev/null 2>&1 || true; fi; exit $rc' EXIT
    ip netns add "$name-sw"
    ip -n "$name-sw" link add br0 type bridge
    ip -n "$name-sw" link set br0 up
    attach "$name" c 198.18.100.1
    for i in 1 2 3; do
        attach "$name" "h$i" "198.18.100.1$i"
        ip netns exec "$name-h$i" sysctl -q -w net.ipv4.icmp_echo_ignore_broadcasts=0 net.ipv4.icmp_ratelimit=0 >/dev/null
    done
    # The bridge forwards only once its ports have left the listening state; wait until every host answers.
    for i in 1 2 3; do
        local try ok=0
        for ((try = 0; try < 50; try++)); do
            if ip netns exec "$name-c" ping -n -q -c1 -W1 "198.18.100.1$i" >/dev/null 2>&1; then ok=1; break; fi
        done
        ((ok)) || die "host h$i (198.18.100.1$i) does not answer"
    done
}

(($# == 2)) || { sed -n '3,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
check_name "$2"
case "$1" in
up) cmd_up "$2" ;;
down) cmd_down "$2" ;;
*) die "expected up or down, got '$1'" ;;
esac
