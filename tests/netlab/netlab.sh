#!/usr/bin/env bash
# netlab.sh: the IcmpTools network-namespace lab (see README.md in this folder).
#
#   netlab.sh up NAME                 build NAME-c, NAME-r1, NAME-r2, NAME-r3, NAME-t and warm them
#   netlab.sh down NAME               stop the lab's delayer and delete its namespaces
#   netlab.sh exec NAME NODE cmd...   run cmd inside NAME-NODE
#   netlab.sh silent NAME NODE on|off make NODE send no ICMP errors at all (or again send them)
#   netlab.sh sparse NAME on|off      make only 1 % of the sweep block answer (or all of it again)
#   netlab.sh ratelimit NAME NODE on|off  make NODE send only a few Time Exceeded a second
#   netlab.sh pmtu NAME on|off        a narrow link to the MTU targets and a PMTU black hole (see cmd_pmtu)
#   netlab.sh ext NAME on|off         r2 answers the extension targets as an MPLS router (see cmd_ext)
#   netlab.sh dns NAME on|off         t serves Team Cymru style origin TXT records on port 53 (see cmd_dns)
#
# Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), iproute2, nftables, iptables (nft flavour), iputils ping,
# gcc and libnetfilter-queue-dev; `dns` needs dnsmasq (Debian: dnsmasq-base).
# Traffic never leaves the lab's namespaces.
set -euo pipefail

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly BUILD_DIR="$HERE/.build"
readonly DELAYER_SRC="$HERE/nfq-delay.c"
readonly DELAYER_BIN="$BUILD_DIR/nfq-delay"
readonly EXT_RESPONDER="$HERE/icmp-ext-responder.py"
readonly RUN_ROOT="/run/netlab"
readonly NODES=(c r1 r2 r3 t r2b)
readonly DELAY_MS=10
readonly LOSS_PERCENT=30
readonly DELAY_QUEUE=0
# Time Exceeded messages a rate-limited router still sends: a short burst, then this many a second.
readonly RATELIMIT_PER_SECOND=2
readonly RATELIMIT_BURST=2

die() { echo "netlab: $*" >&2; exit 1; }

usage() {
    sed -n '3,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
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

# Compile the delayer when it is missing or older than its source. Parallel `up`s share the
# build dir, so compile under a lock into a temporary name and rename into place.
build_delayer() {
    [[ -x "$DELAYER_BIN" && "$DELAYER_BIN" -nt "$DELAYER_SRC" ]] && return 0
    mkdir -p "$BUILD_DIR"
    (
        flock -w 60 9 || die "timed out waiting for the build lock"
        if [[ ! -x "$DELAYER_BIN" || ! "$DELAYER_BIN" -nt "$DELAYER_SRC" ]]; then
            local tmp="$DELAYER_BIN.tmp.$$"
            gcc -O2 -Wall -Wextra -Werror -o "$tmp" "$DELAYER_SRC" -lnetfilter_queue \
                || { rm -f "$tmp"; die "cannot compile $DELAYER_SRC (is libnetfilter-queue-dev installed?)"; }
            mv -f "$tmp" "$DELAYER_BIN"
        fi
    ) 9>"$BUILD_DIR/.lock"
}

# sysctls every node gets. ICMP error rate limits are per destination (about 1/s, burst 6)
# and global (icmp_msgs_per_sec), so without this, tests starve each other of errors.
# DAD is off in "default" before any link exists, so addresses are usable at once.
common_sysctls() {
    echo net.ipv4.icmp_ratelimit=0
    echo net.ipv6.icmp.ratelimit=0
    echo net.ipv4.icmp_msgs_per_sec=1000000
    echo net.ipv4.icmp_msgs_burst=1000000
    echo net.ipv4.conf.all.rp_filter=0
    echo net.ipv4.conf.default.rp_filter=0
    echo net.ipv6.conf.all.accept_dad=0
    echo net.ipv6.conf.default.accept_dad=0
    echo net.ipv6.conf.all.dad_transmits=0
    echo net.ipv6.conf.default.dad_transmits=0
    # No router advertisements or solicitations in a static lab.
    echo net.ipv6.conf.all.accept_ra=0
    echo net.ipv6.conf.default.accept_ra=0
    echo net.ipv6.conf.default.router_solicitations=0
}

router_sysctls() {
    echo net.ipv4.ip_forward=1
    echo net.ipv6.conf.all.forwarding=1
}

# Per-node ip batch: links up, addresses, routes (cmd_up runs the "link set" lines first). Interface names are the peer's node name,
# prefixed "to-", so they never depend on the lab name.
ip_batch() {
    case "$1" in
    c)
        cat <<'EOF'
link set lo up
addr add 198.18.1.2/24 dev to-r1
addr add 2001:db8:1::2/64 dev to-r1 nodad
link set to-r1 up
route add default via 198.18.1.1 dev to-r1
route add ::/0 via 2001:db8:1::1 dev to-r1
EOF
        ;;
    r1)
        cat <<'EOF'
link set lo up
addr add 198.18.1.1/24 dev to-c
addr add 2001:db8:1::1/64 dev to-c nodad
addr add 198.18.2.1/24 dev to-r2
addr add 2001:db8:2::1/64 dev to-r2 nodad
addr add 198.18.5.1/24 dev to-r2b
addr add 2001:db8:5::1/64 dev to-r2b nodad
link set to-c up
link set to-r2 up
link set to-r2b up
route add default via 198.18.2.2 dev to-r2
route add ::/0 via 2001:db8:2::2 dev to-r2
route add default via 198.18.5.2 dev to-r2b table 100
route add ::/0 via 2001:db8:5::2 dev to-r2b table 100
EOF
        ;;
    r2)
        cat <<'EOF'
link set lo up
addr add 198.18.2.2/24 dev to-r1
addr add 2001:db8:2::2/64 dev to-r1 nodad
addr add 198.18.3.1/24 dev to-r3
addr add 2001:db8:3::1/64 dev to-r3 nodad
link set to-r1 up
link set to-r3 up
route add 198.18.1.0/24 via 198.18.2.1 dev to-r1
route add 2001:db8:1::/64 via 2001:db8:2::1 dev to-r1
route add default via 198.18.3.2 dev to-r3
route add ::/0 via 2001:db8:3::2 dev to-r3
route add unreachable 198.18.12.0/24
route add unreachable 2001:db8:12::/64
route add prohibit 198.18.14.0/24
route add prohibit 2001:db8:14::/64
route add blackhole 198.18.13.0/24
route add blackhole 2001:db8:13::/64
route add blackhole 198.18.20.128/25
route add blackhole 2001:db8:20::80/121
EOF
        ;;
    r3)
        cat <<'EOF'
link set lo up
addr add 198.18.3.2/24 dev to-r2
addr add 2001:db8:3::2/64 dev to-r2 nodad
addr add 198.18.4.1/24 dev to-t
addr add 2001:db8:4::1/64 dev to-t nodad
addr add 198.18.6.2/24 dev to-r2b
addr add 2001:db8:6::2/64 dev to-r2b nodad
link set to-r2 up
link set to-t up
link set to-r2b up
route add 198.18.1.0/24 via 198.18.3.1 dev to-r2
route add 198.18.2.0/24 via 198.18.3.1 dev to-r2
route add 2001:db8:1::/64 via 2001:db8:3::1 dev to-r2
route add 2001:db8:2::/64 via 2001:db8:3::1 dev to-r2
route add default via 198.18.4.2 dev to-t
route add ::/0 via 2001:db8:4::2 dev to-t
EOF
        ;;
    t)
        cat <<'EOF'
link set lo up
addr add 198.18.4.2/24 dev to-r3
addr add 2001:db8:4::2/64 dev to-r3 nodad
link set to-r3 up
route add default via 198.18.4.1 dev to-r3
route add ::/0 via 2001:db8:4::1 dev to-r3
addr add 198.18.10.1/32 dev lo
addr add 2001:db8:10::1/128 dev lo nodad
addr add 198.18.11.1/32 dev lo
addr add 2001:db8:11::1/128 dev lo nodad
route add local 198.19.0.0/16 dev lo
route add local 2001:db8:ff::/112 dev lo
route add local 198.18.20.0/24 dev lo
route add local 2001:db8:20::/120 dev lo
addr add 198.18.15.1/32 dev lo
addr add 2001:db8:15::1/128 dev lo nodad
addr add 198.18.30.1/32 dev lo
addr add 2001:db8:30::1/128 dev lo nodad
addr add 198.18.31.1/32 dev lo
addr add 2001:db8:31::1/128 dev lo nodad
EOF
        ;;
    r2b)
        cat <<'EOF'
link set lo up
addr add 198.18.5.2/24 dev to-r1
addr add 2001:db8:5::2/64 dev to-r1 nodad
addr add 198.18.6.1/24 dev to-r3
addr add 2001:db8:6::1/64 dev to-r3 nodad
link set to-r1 up
link set to-r3 up
route add 198.18.1.0/24 via 198.18.5.1 dev to-r1
route add 2001:db8:1::/64 via 2001:db8:5::1 dev to-r1
route add default via 198.18.6.2 dev to-r3
route add ::/0 via 2001:db8:6::2 dev to-r3
EOF
        ;;
    esac
}

# r2 queues echo requests to the delay target for the delayer. This kernel has no nft "queue"
# expression (CONFIG_NFT_QUEUE unset) but has xt NFQUEUE through nft_compat, so the rule is
# written with iptables-nft; it lives in r2's nftables ruleset as table ip/ip6 filter.
# No --queue-bypass: if the delayer is not running, those pings fail loudly instead of
# passing undelayed.
queue_rules() {
    cat <<EOF
*filter
-A FORWARD -d $1 -p $2 --$2-type echo-request -j NFQUEUE --queue-num $DELAY_QUEUE
COMMIT
EOF
}

# r2 also answers for the unreachable block with nft reject, in prerouting, before the route
# lookup. The "unreachable" routes alone would do it, but the kernel rate-limits the
# unreachables of route lookups (ip_error) by net.ipv4.route.error_cost, which is host-wide
# and not writable from a namespace (about 1/s, burst 5); reject goes through icmp_send,
# which obeys this namespace's icmp_ratelimit=0. The codes are those of the routes:
# host unreachable (IPv4), no route (IPv6).
nft_r2() {
    cat <<EOF
table inet netlab {
    chain prerouting {
        type filter hook prerouting priority 0; policy accept;
        ip daddr 198.18.12.0/24 reject with icmp type host-unreachable
        ip6 daddr 2001:db8:12::/64 reject with icmpv6 type no-route
        ip daddr 198.18.14.0/24 reject with icmp type admin-prohibited
        ip6 daddr 2001:db8:14::/64 reject with icmpv6 type admin-prohibited
    }
    # Forwarding loss on the r2 -> r3 link for the link-loss target: every hop from r3 on sees it.
    chain forward {
        type filter hook forward priority 0; policy accept;
        ip daddr 198.18.15.1 numgen random mod 100 < $LOSS_PERCENT counter drop
        ip6 daddr 2001:db8:15::1 numgen random mod 100 < $LOSS_PERCENT counter drop
    }
}
EOF
}

# r1 is the diamond's balancer (r1 -> r2 or r2b -> r3 -> t): packets to the per-flow target take a
# branch by a hash of the addresses and the first four bytes of the ICMP header (type, code,
# checksum), as per-flow load balancers in the wild do; packets to the per-packet target take one
# at random. Mark 1 selects r2b's routing table (ip rule fwmark 1 lookup 100).
nft_r1() {
    cat <<'EOF'
table inet netlab {
    chain prerouting {
        type filter hook prerouting priority -150; policy accept;
        ip daddr 198.18.30.1 meta mark set jhash ip saddr . ip daddr . @th,0,32 mod 2 seed 0x5eed
        ip6 daddr 2001:db8:30::1 meta mark set jhash ip6 saddr . ip6 daddr . @th,0,32 mod 2 seed 0x5eed
        ip daddr 198.18.31.1 meta mark set numgen random mod 2
        ip6 daddr 2001:db8:31::1 meta mark set numgen random mod 2
    }
}
EOF
}

# The target drops a share of the echo requests to the loss target where they arrive
# (dropping on the client's way out would make its sends fail with EPERM).
nft_t() {
    cat <<EOF
table inet netlab {
    chain prerouting {
        type filter hook prerouting priority 0; policy accept;
        ip daddr 198.18.11.1 icmp type echo-request numgen random mod 100 < $LOSS_PERCENT counter drop
        ip6 daddr 2001:db8:11::1 icmpv6 type echo-request numgen random mod 100 < $LOSS_PERCENT counter drop
    }
}
EOF
}

ns_exists() { [[ -e "/run/netns/$1" ]]; }

# True while PID exists and has not exited. A zombie counts as gone: PID 1 on some hosts
# reaps orphans late, and kill -0 succeeds on a zombie.
running() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

# A daemon started in the background writes its pid file once it is ready (its queue or sockets bound): waits up to
# TRIES looks 10 ms apart for PIDFILE to be written by PID. Not ready by then, or gone: stops it (`down` would find
# no pid file to stop it by) and fails, for the caller to say what did not start.
wait_for_pidfile() {
    local pidfile="$1" pid="$2" tries="$3" i
    for ((i = 0; i < tries; i++)); do
        [[ -s "$pidfile" ]] && return 0
        running "$pid" || break
        sleep 0.01
    done
    kill -TERM "$pid" 2>/dev/null || true
    return 1
}

# Stops the daemon whose pid PIDFILE holds, if that pid is still the daemon (its command line matches PATTERN: the pid
# may have been reused), giving it up to TRIES looks 10 ms apart to end on SIGTERM before SIGKILL; removes PIDFILE.
stop_by_pidfile() {
    local pidfile="$1" pattern="$2" tries="$3" pid i
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q "$pattern"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < tries; i++)); do
            running "$pid" || break
            sleep 0.01
        done
        if running "$pid"; then
            echo "netlab: $pid ($pattern) ignored SIGTERM, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

stop_delayer() { stop_by_pidfile "$RUN_ROOT/$1/delayer.pid" nfq-delay 100; }

cmd_down() {
    local name="$1" node
    stop_delayer "$name"
    stop_ext "$name"
    stop_dns "$name"
    for node in "${NODES[@]}"; do
        if ns_exists "$name-$node"; then
            ip netns del "$name-$node" 2>/dev/null || true
        fi
    done
    rm -rf "${RUN_ROOT:?}/$name"
    for node in "${NODES[@]}"; do
        ns_exists "$name-$node" && die "namespace $name-$node is still there"
    done
    return 0
}

start_delayer() {
    local name="$1" dir="$RUN_ROOT/$1"
    local pidfile="$dir/delayer.pid"
    rm -f "$pidfile"
    # setsid + closed stdin: the delayer outlives this script and holds none of its pipes, so a
    # caller that waits for our stdout/stderr to close is not kept waiting.
    setsid ip netns exec "$name-r2" "$DELAYER_BIN" --queue "$DELAY_QUEUE" --delay-ms "$DELAY_MS" \
        --pidfile "$pidfile" </dev/null >"$dir/delayer.log" 2>&1 &
    # The delayer writes its pid file once the queue is bound.
    wait_for_pidfile "$pidfile" $! 100 || die "delayer did not start: $(cat "$dir/delayer.log" 2>/dev/null)"
}

# The first IPv6 packets after link-up can be lost, so touch every hop and every scenario
# address that should answer before `up` returns. The loss target shares its path with the
# plain target, and the unreachable/blackhole targets are left alone: an IPv4 unreachable
# would spend one of the host-wide route.error_cost tokens that the tests need.
warm_up() {
    local name="$1" addr try pending=() still
    local -a addrs=(
        198.18.1.1 198.18.2.2 198.18.3.2 198.18.4.2 198.18.10.1 198.19.0.1 198.19.255.254 198.18.20.1
        198.18.5.2 198.18.6.2 198.18.30.1 198.18.31.1
        2001:db8:1::1 2001:db8:2::2 2001:db8:3::2 2001:db8:4::2 2001:db8:10::1 2001:db8:ff::1
        2001:db8:ff::ffff 2001:db8:20::1
        2001:db8:5::2 2001:db8:6::2 2001:db8:30::1 2001:db8:31::1
    )
    pending=("${addrs[@]}")
    for ((try = 0; try < 5 && ${#pending[@]} > 0; try++)); do
        # One ping per address, all at once; each is bounded by -W.
        local -A pids=()
        for addr in "${pending[@]}"; do
            ip netns exec "$name-c" ping -n -q -c1 -W1 "$addr" >/dev/null 2>&1 &
            pids[$addr]=$!
        done
        still=()
        for addr in "${pending[@]}"; do
            wait "${pids[$addr]}" || still+=("$addr")
        done
        unset pids
        pending=("${still[@]+"${still[@]}"}")
    done
    ((${#pending[@]} == 0)) || die "lab $name: no answer from ${pending[*]}"
}

cmd_up() {
    local name="$1" node dir="$RUN_ROOT/$1"
    for node in "${NODES[@]}"; do
        ns_exists "$name-$node" && die "namespace $name-$node already exists"
    done
    build_delayer
    command -v nft >/dev/null || die "nft not found (apt-get install nftables)"
    command -v iptables-nft-restore >/dev/null || die "iptables-nft-restore not found (apt-get install iptables)"

    # From here on, any failure tears down whatever was created.
    UP_DONE=0
    trap 'rc=$?; if ((UP_DONE == 0)); then cmd_down "'"$name"'" >/dev/null 2>&1 || true; fi; exit $rc' EXIT
    mkdir -p "$dir"

    for node in "${NODES[@]}"; do
        ip netns add "$name-$node"
    done
    # sysctls first: DAD and forwarding settings must be in place before links appear.
    for node in "${NODES[@]}"; do
        {
            common_sysctls
            case "$node" in r*) router_sysctls ;; esac
        } | ip netns exec "$name-$node" sysctl -q -p- >/dev/null
    done

    ip -n "$name-c" link add to-r1 type veth peer name to-c netns "$name-r1"
    ip -n "$name-r1" link add to-r2 type veth peer name to-r1 netns "$name-r2"
    ip -n "$name-r2" link add to-r3 type veth peer name to-r2 netns "$name-r3"
    ip -n "$name-r3" link add to-t type veth peer name to-r3 netns "$name-t"
    ip -n "$name-r1" link add to-r2b type veth peer name to-r1 netns "$name-r2b"
    ip -n "$name-r2b" link add to-r3 type veth peer name to-r2b netns "$name-r3"

    # Links up everywhere first, addresses after: an IPv6 address added before its link has
    # carrier is unusable for about a second (the link-watch delay), even with nodad.
    for node in "${NODES[@]}"; do
        ip_batch "$node" | grep '^link set' | ip -n "$name-$node" -batch -
    done
    for node in "${NODES[@]}"; do
        ip_batch "$node" | grep -v '^link set' | ip -n "$name-$node" -batch -
    done
    queue_rules 198.18.10.1 icmp | ip netns exec "$name-r2" iptables-nft-restore
    queue_rules 2001:db8:10::1 icmpv6 | ip netns exec "$name-r2" ip6tables-nft-restore
    nft_r2 | ip netns exec "$name-r2" nft -f -
    nft_t | ip netns exec "$name-t" nft -f -
    nft_r1 | ip netns exec "$name-r1" nft -f -
    ip -n "$name-r1" -4 rule add fwmark 1 lookup 100
    ip -n "$name-r1" -6 rule add fwmark 1 lookup 100

    start_delayer "$name"
    warm_up "$name"
    UP_DONE=1
    trap - EXIT
}

cmd_silent() {
    local name="$1" node="$2" mode="$3"
    ns_exists "$name-$node" || die "no namespace $name-$node"
    case "$mode" in
    on)
        ip netns exec "$name-$node" nft -f - <<'EOF'
table inet netlab_silent
delete table inet netlab_silent
table inet netlab_silent {
    chain output {
        type filter hook output priority 0; policy accept;
        icmp type { destination-unreachable, source-quench, redirect, time-exceeded, parameter-problem } drop
        icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } drop
    }
}
EOF
        ;;
    off)
        ip netns exec "$name-$node" nft delete table inet netlab_silent 2>/dev/null || true
        ;;
    *) die "silent: expected on or off, got '$mode'" ;;
    esac
}

# A router that limits the Time Exceeded messages it sends (as many do in their control plane)
# while it forwards everything: its hop shows loss that the hops beyond it do not.
cmd_ratelimit() {
    local name="$1" node="$2" mode="$3"
    ns_exists "$name-$node" || die "no namespace $name-$node"
    case "$mode" in
    on)
        ip netns exec "$name-$node" nft -f - <<EOF
table inet netlab_ratelimit
delete table inet netlab_ratelimit
table inet netlab_ratelimit {
    chain output {
        type filter hook output priority 0; policy accept;
        icmp type time-exceeded limit rate over $RATELIMIT_PER_SECOND/second burst $RATELIMIT_BURST packets counter drop
        icmpv6 type time-exceeded limit rate over $RATELIMIT_PER_SECOND/second burst $RATELIMIT_BURST packets counter drop
    }
}
EOF
        ;;
    off)
        ip netns exec "$name-$node" nft delete table inet netlab_ratelimit 2>/dev/null || true
        ;;
    *) die "ratelimit: expected on or off, got '$mode'" ;;
    esac
}

# A sparse sweep block, as real blocks are: only every 100th address of 198.19.0.0/16 and of
# 2001:db8:ff::/112 answers (655 of 65,534: .0.100, .0.200, ... ; ::64, ::c8, ...); the target drops the
# echo requests to every other one where they arrive, silently, like an address with no host.
sparse_elements() {   # v4|v6
    local i
    for ((i = 100; i <= 65534; i += 100)); do
        if [[ "$1" == v4 ]]; then
            printf '198.19.%d.%d,' $((i >> 8)) $((i & 255))
        else
            printf '2001:db8:ff::%x,' "$i"
        fi
    done
}

cmd_sparse() {
    local name="$1" mode="$2"
    ns_exists "$name-t" || die "no namespace $name-t"
    case "$mode" in
    on)
        ip netns exec "$name-t" nft -f - <<EOF
table inet netlab_sparse
delete table inet netlab_sparse
table inet netlab_sparse {
    set alive4 { type ipv4_addr; elements = { $(sparse_elements v4) } }
    set alive6 { type ipv6_addr; elements = { $(sparse_elements v6) } }
    chain prerouting {
        type filter hook prerouting priority -10; policy accept;
        ip daddr 198.19.0.0/16 ip daddr != @alive4 icmp type echo-request drop
        ip6 daddr 2001:db8:ff::/112 ip6 daddr != @alive6 icmpv6 type echo-request drop
    }
}
EOF
        ;;
    off)
        ip netns exec "$name-t" nft delete table inet netlab_sparse 2>/dev/null || true
        ;;
    *) die "sparse: expected on or off, got '$mode'" ;;
    esac
}

# Path MTU scenarios, on their own target addresses so the rest of the lab keeps 1500 everywhere:
#   198.18.16.1 / 2001:db8:16::1  r2 -> r3 is narrow (1400 IPv4, 1280 IPv6): r2 answers a larger
#                                 DF probe with Fragmentation Needed / Packet Too Big naming the MTU.
#   198.18.17.1 / 2001:db8:17::1  r3 -> t is as narrow, and r3 drops the Fragmentation Needed / Packet
#                                 Too Big it would send: a PMTU black hole, where big probes just vanish.
# The narrow links are route MTUs (IPv6 forwarding honours only a locked one), so no interface changes.
readonly PMTU_V4=1400
readonly PMTU_V6=1280
cmd_pmtu() {
    local name="$1" mode="$2"
    local ns
    for ns in t r2 r3; do ns_exists "$name-$ns" || die "no namespace $name-$ns"; done
    case "$mode" in
    on)
        ip -n "$name-t" -batch - <<'EOF'
addr replace 198.18.16.1/32 dev lo
addr replace 2001:db8:16::1/128 dev lo nodad
addr replace 198.18.17.1/32 dev lo
addr replace 2001:db8:17::1/128 dev lo nodad
EOF
        ip -n "$name-r2" -batch - <<EOF
route replace 198.18.16.1/32 via 198.18.3.2 dev to-r3 mtu lock $PMTU_V4
route replace 2001:db8:16::1/128 via 2001:db8:3::2 dev to-r3 mtu lock $PMTU_V6
EOF
        ip -n "$name-r3" -batch - <<EOF
route replace 198.18.17.1/32 via 198.18.4.2 dev to-t mtu lock $PMTU_V4
route replace 2001:db8:17::1/128 via 2001:db8:4::2 dev to-t mtu lock $PMTU_V6
EOF
        ip netns exec "$name-r3" nft -f - <<'EOF'
table inet netlab_pmtu
delete table inet netlab_pmtu
table inet netlab_pmtu {
    chain output {
        type filter hook output priority 0; policy accept;
        icmp type destination-unreachable icmp code frag-needed counter drop
        icmpv6 type packet-too-big counter drop
    }
}
EOF
        ;;
    off)
        ip netns exec "$name-r3" nft delete table inet netlab_pmtu 2>/dev/null || true
        ip -n "$name-r3" route del 198.18.17.1/32 2>/dev/null || true
        ip -n "$name-r3" -6 route del 2001:db8:17::1/128 2>/dev/null || true
        ip -n "$name-r2" route del 198.18.16.1/32 2>/dev/null || true
        ip -n "$name-r2" -6 route del 2001:db8:16::1/128 2>/dev/null || true
        local a
        for a in 198.18.16.1/32 2001:db8:16::1/128 198.18.17.1/32 2001:db8:17::1/128; do
            ip -n "$name-t" addr del "$a" dev lo 2>/dev/null || true
        done
        ;;
    *) die "pmtu: expected on or off, got '$mode'" ;;
    esac
}

# ICMP extensions (RFC 4884, 4950, 5837) as MPLS routers send them: r2 drops every packet to 198.18.18.0/24 and
# 2001:db8:18::/64 before its kernel sees it, and icmp-ext-responder.py (python3-scapy, tapping r2's link from r1)
# answers them instead: Time Exceeded with extensions at TTL 1, echo replies beyond (targets in the script).
stop_ext() { stop_by_pidfile "$RUN_ROOT/$1/ext.pid" icmp-ext-responder 200; }

cmd_ext() {
    local name="$1" mode="$2" dir="$RUN_ROOT/$1"
    ns_exists "$name-r2" || die "no namespace $name-r2"
    case "$mode" in
    on)
        /usr/bin/python3 -c 'import scapy' 2>/dev/null || die "python3-scapy is missing (apt-get install python3-scapy)"
        stop_ext "$name"
        ip netns exec "$name-r2" nft -f - <<'EOF'
table inet netlab_ext
delete table inet netlab_ext
table inet netlab_ext {
    chain prerouting {
        type filter hook prerouting priority -300; policy accept;
        ip daddr 198.18.18.0/24 drop
        ip6 daddr 2001:db8:18::/64 drop
    }
}
EOF
        mkdir -p "$dir"
        local pidfile="$dir/ext.pid"
        rm -f "$pidfile"
        # Bounded: it ends by itself after 15 minutes or 20,000 answers, whichever comes first.
        setsid ip netns exec "$name-r2" /usr/bin/python3 "$EXT_RESPONDER" --iface to-r1 --pidfile "$pidfile" \
            --seconds 900 --packets 20000 </dev/null >"$dir/ext.log" 2>&1 &
        wait_for_pidfile "$pidfile" $! 1000 || die "extension responder did not start: $(cat "$dir/ext.log" 2>/dev/null)"
        ;;
    off)
        stop_ext "$name"
        ip netns exec "$name-r2" nft delete table inet netlab_ext 2>/dev/null || true
        ;;
    *) die "ext: expected on or off, got '$mode'" ;;
    esac
}

# Only this lab's dnsmasq: its command line names the lab's own configuration.
stop_dns() { stop_by_pidfile "$RUN_ROOT/$1/dns.pid" "dnsmasq.*/$1/dns.conf" 200; }

# The AS numbers of the lab's routers as Team Cymru's origin service would give them (origin.asn.cymru.com,
# origin6.asn.cymru.com; see README.md): r2 has two covering prefixes, one announced by two ASes, and r3 has
# none (the zone is local, so its name is NXDOMAIN rather than a refusal).
dns_conf() {
    cat <<'EOF'
no-resolv
no-hosts
port=53
bind-interfaces
listen-address=198.18.4.2
listen-address=2001:db8:4::2
local=/asn.cymru.com/
txt-record=1.1.18.198.origin.asn.cymru.com,"64501 | 198.18.1.0/24 | ZZ | arin | 2001-01-01"
txt-record=2.2.18.198.origin.asn.cymru.com,"64510 | 198.18.0.0/15 | ZZ | arin | 2001-01-01"
txt-record=2.2.18.198.origin.asn.cymru.com,"64503 64502 | 198.18.2.0/24 | ZZ | ripencc | 2002-02-02"
txt-record=2.4.18.198.origin.asn.cymru.com,"64504 | 198.18.4.0/24 | ZZ | apnic | 2004-04-04"
txt-record=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.origin6.asn.cymru.com,"64511 | 2001:db8:1::/64 | ZZ | arin | 2011-01-01"
txt-record=2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.8.b.d.0.1.0.0.2.origin6.asn.cymru.com,"64512 | 2001:db8:2::/64 | ZZ | ripencc | 2012-02-02"
txt-record=2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.4.0.0.0.8.b.d.0.1.0.0.2.origin6.asn.cymru.com,"64514 | 2001:db8:4::/64 | ZZ | apnic | 2014-04-04"
EOF
}

cmd_dns() {
    local name="$1" mode="$2" dir="$RUN_ROOT/$1"
    ns_exists "$name-t" || die "no namespace $name-t"
    case "$mode" in
    on)
        command -v dnsmasq >/dev/null || die "dnsmasq is missing (apt-get install dnsmasq-base)"
        stop_dns "$name"
        mkdir -p "$dir"
        dns_conf >"$dir/dns.conf"
        local pidfile="$dir/dns.pid"
        rm -f "$pidfile"
        # Inside the target's namespace only, on the target's own addresses; it runs until `dns off` or `down`.
        setsid ip netns exec "$name-t" dnsmasq --keep-in-foreground --conf-file="$dir/dns.conf" --pid-file="$pidfile" \
            --user=root --log-facility=- </dev/null >"$dir/dns.log" 2>&1 &
        # dnsmasq writes its pid file once its sockets are bound.
        wait_for_pidfile "$pidfile" $! 1000 || die "dnsmasq did not start: $(cat "$dir/dns.log" 2>/dev/null)"
        ;;
    off)
        stop_dns "$name"
        ;;
    *) die "dns: expected on or off, got '$mode'" ;;
    esac
}

main() {
    (($# >= 1)) || usage
    local cmd="$1"
    shift
    case "$cmd" in
    up)
        (($# == 1)) || usage
        check_name "$1"
        cmd_up "$1"
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
    silent)
        (($# == 3)) || usage
        check_name "$1"
        check_node "$2"
        cmd_silent "$1" "$2" "$3"
        ;;
    ratelimit)
        (($# == 3)) || usage
        check_name "$1"
        check_node "$2"
        cmd_ratelimit "$1" "$2" "$3"
        ;;
    sparse)
        (($# == 2)) || usage
        check_name "$1"
        cmd_sparse "$1" "$2"
        ;;
    pmtu)
        (($# == 2)) || usage
        check_name "$1"
        cmd_pmtu "$1" "$2"
        ;;
    ext)
        (($# == 2)) || usage
        check_name "$1"
        cmd_ext "$1" "$2"
        ;;
    dns)
        (($# == 2)) || usage
        check_name "$1"
        cmd_dns "$1" "$2"
        ;;
    *) usage ;;
    esac
}

main "$@"
