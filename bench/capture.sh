# bench/capture.sh: sourced by bench/run.sh and bench/ab16.sh (needs NS, the lab client's namespace).
# A capture of the lab client's echo requests and replies with the kernel's stamps (bench/pcap_times.py reads
# it), bounded by timeout; capture_off stops it by its pid. Only listens: it sends nothing.
CAP_PID=
CAP_FILE=
capture_on() {   # file-prefix
    CAP_FILE="$1"
    timeout -s INT 120 ip netns exec "$NS" tcpdump -i to-r1 -n -s 64 -B 32768 --time-stamp-precision=nano -w "$CAP_FILE.pcap" \
        'icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply' 2>"$CAP_FILE.tcpdump" &
    CAP_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q "listening on" "$CAP_FILE.tcpdump" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "   tcpdump did not start: $(cat "$CAP_FILE.tcpdump")" >&2
}
capture_off() {
    sleep 0.2
    kill -INT "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
    tail -n1 "$CAP_FILE.tcpdump" | sed 's/^/   capture: /'
    # Only zmap's capture is read (zmap16_record); the others only gave every tool the same tap (10 MB each).
    [[ "$CAP_FILE" == *zmap* ]] || rm -f "$CAP_FILE.pcap"
}
