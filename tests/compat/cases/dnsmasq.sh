# dnsmasq (UDP and TCP DNS on A's IPv4 and IPv6 addresses) <- dig: A, AAAA,
# TXT with exact content, NXDOMAIN, over UDP and TCP (dnsmasq forks a child
# per TCP connection), and the query logged with B's address.
. "$(dirname "$0")/lib.sh"

server() {
	need dnsmasq
	# As root dnsmasq drops privileges by itself (to nobody); unprivileged it
	# keeps its uid.
	dnsmasq --no-daemon --port="$PORT" --listen-address="$A4" --listen-address="$A6" \
		--bind-interfaces --no-resolv --no-hosts --conf-file=/dev/null \
		--pid-file="$WORK/dnsmasq.pid" --log-queries --log-facility=- \
		--address=/example.test/10.99.0.77 --address=/example.test/fd00:99::77 \
		--txt-record=txt.example.test,"hello ztnc" --local=/test/ \
		>"$WORK/dnsmasq.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	wait_up $srv 300 sh -c "[ \"\$(dig +time=2 +tries=1 -p $PORT @$A4 example.test +short)\" = 10.99.0.77 ]"
}

client() {
	need dig
	q() { dig +time=3 +tries=2 -p "$PORT" @"$SRV" "$@"; }
	for mode in +notcp +tcp; do
		check_eq 10.99.0.77 "$(q example.test A +short $mode)" "A example.test $mode"
		check_eq fd00:99::77 "$(q example.test AAAA +short $mode)" "AAAA example.test $mode"
		check_eq '"hello ztnc"' "$(q txt.example.test TXT +short $mode)" "TXT txt.example.test $mode"
		status=$(q nope.test A $mode | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
		check_eq NXDOMAIN "$status" "status for nope.test $mode"
	done
	got=$(q +short example.test A a.example.test A b.example.test A | sort | uniq -c | tr -s ' ')
	check_eq " 3 10.99.0.77" "$got" "3 answers from one dig"
	grep -q "query\[A\] example.test from $ME\$" "$WORK/dnsmasq.log" || fail "dnsmasq did not log a query from $ME"
	log "ok: dnsmasq logged queries from $ME"
}

main "$@"
