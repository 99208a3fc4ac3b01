# iperf3 server <- iperf3 client: 2 s of TCP, then 2 s of UDP at 100 Mbit/s;
# checked from iperf3's JSON (TCP: what was sent arrived, but for the last
# moment's bytes in flight; UDP:
# datagrams arrived, loss recorded). The rates are in the result files.
. "$(dirname "$0")/lib.sh"

server() {
	need iperf3
	iperf3 -s -p "$PORT" --forceflush >"$WORK/iperf3-server.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	# iperf3 takes one test at a time; readiness is its listening socket,
	# seen from inside node A without running a test.
	wait_up $srv 300 sh -c "grep -q 'Server listening' '$WORK/iperf3-server.log'"
}

# summarize FILE MODE: check iperf3's JSON and print the figures.
summarize() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if "error" in d:
    sys.exit("iperf3 error: " + d["error"])
end = d["end"]
if sys.argv[2] == "tcp":
    s, r = end["sum_sent"], end["sum_received"]
    # The server stops counting when its side of the test ends, so what is
    # still in flight then is "sent" but not "received" (as on Linux). In
    # flight means every buffer on the way: both programs' socket buffers,
    # the supervisors' pumps and both netstacks' TCP windows (several MB
    # each under ztnc), hence the allowance is 10 % or 16 MiB, whichever is
    # more. More received than sent would be a bug.
    slack = max(0.1 * s["bytes"], 16 << 20)
    if r["bytes"] <= 0 or r["bytes"] < s["bytes"] - slack or r["bytes"] > s["bytes"]:
        for iv in d.get("intervals", []):
            x = iv["sum"]
            print("  interval %.1f-%.1f s: %d bytes" % (x["start"], x["end"], x["bytes"]), file=sys.stderr)
        sys.exit("TCP: sent %d bytes, received %d" % (s["bytes"], r["bytes"]))
    print("TCP: %.1f Mbit/s sent, %.1f Mbit/s received, %d bytes, %d retransmits" % (
        s["bits_per_second"] / 1e6, r["bits_per_second"] / 1e6, r["bytes"], s.get("retransmits", 0)))
else:
    s = end["sum"]
    if s["packets"] <= 0 or s["lost_packets"] >= s["packets"]:
        sys.exit("UDP: %d datagrams, %d lost" % (s["packets"], s["lost_packets"]))
    print("UDP: %.1f Mbit/s offered, %d datagrams, %d lost (%.2f %%), jitter %.3f ms" % (
        s["bits_per_second"] / 1e6, s["packets"], s["lost_packets"], s["lost_percent"], s["jitter_ms"]))
PY
}

client() {
	need iperf3 python3
	# The server may still be finishing the previous test: retry a refused start.
	for mode in tcp udp; do
		flags=""
		[ $mode = udp ] && flags="-u -b 100M"
		ok=0
		for try in 1 2 3 4 5; do
			if timeout 30 iperf3 -c "$SRV" -p "$PORT" -t 2 -J $flags >"$WORK/$mode.$FAM.json" 2>"$WORK/$mode.$FAM.err"; then
				ok=1
				break
			fi
			grep -q 'busy' "$WORK/$mode.$FAM.json" "$WORK/$mode.$FAM.err" || break
			sleep 1
		done
		[ $ok = 1 ] || fail "iperf3 $mode: $(cat "$WORK/$mode.$FAM.err"; python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error",""))' "$WORK/$mode.$FAM.json" 2>/dev/null)"
		res=$(summarize "$WORK/$mode.$FAM.json" $mode 2>&1) || fail "$res"
		log "result: $res"
		figure "iperf3 $res"
	done
}

main "$@"
