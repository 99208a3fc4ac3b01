# iputils ping both ways: B pings A, and A pings B (A learns B's address from
# the file B's script writes); every echo answered, by the address pinged.
# Debian's ping has the file capability cap_net_raw+ep, which an empty
# bounding set (uid 65534 here) refuses to execute: a copy without it uses
# ICMP datagram sockets, as iputils tries first anyway.
. "$(dirname "$0")/lib.sh"

# pingcheck COUNT ADDR FAMFLAG: COUNT echoes to ADDR, all answered by it.
pingcheck() {
	_out=$("$WORK/ping.$ROLE" -n -c "$1" -i 0.2 -W 3 $3 "$2" 2>&1)
	_st=$?
	echo "$_out" | sed "s/^/    /" >&2
	[ $_st -eq 0 ] || fail "ping $3 $2 exited with status $_st"
	echo "$_out" | grep -q "^$1 packets transmitted, $1 received, 0% packet loss" || fail "ping $2: not all $1 echoes answered"
	check_eq "$1" "$(echo "$_out" | grep -c "^[0-9]* bytes from $2: icmp_seq=")" "echo replies from $2"
}

server() {
	need ping
	cp /usr/bin/ping "$WORK/ping.server" || fail "copying ping"
	# Node A pings B once B has written its addresses; the verdict goes to
	# files B's checks read.
	(
		wait_file "$WORK/b.addrs" 60 || exit 1
		read -r b4 b6 <"$WORK/b.addrs"
		for f in 4 6; do
			if [ $f = 4 ]; then b=$b4; else b=$b6; fi
			(FAM=$f pingcheck 5 "$b" -$f) >"$WORK/a-ping.$f.tmp" 2>&1
			echo "status $?" >>"$WORK/a-ping.$f.tmp"
			mv "$WORK/a-ping.$f.tmp" "$WORK/a-ping.$f"
		done
	) &
}

client() {
	cp /usr/bin/ping "$WORK/ping.client" || fail "copying ping"
	pingcheck 5 "$SRV" -$FAM
	wait_file "$WORK/a-ping.$FAM" 30 || fail "node A's ping of $ME did not finish"
	echo "node A's ping of $ME:" >&2
	cat "$WORK/a-ping.$FAM" >&2
	grep -q '^status 0$' "$WORK/a-ping.$FAM" || fail "node A's ping of $ME failed"
	log "ok: A -> B ($ME) answered too"
}

main "$@"
