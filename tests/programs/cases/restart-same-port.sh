# A server restarted on the same port, as daemons and test harnesses do: once
# a listening process has exited its socket is gone, so the next server on
# that port — on the same or on another address (here the wildcard) — gets
# every connection at once, with no stale listener answering in between.
. "$(dirname "$0")/lib.sh"
need python3 curl

mkdir -p "$WORK/a" "$WORK/b" "$WORK/c" || fail "mkdir"
echo "server A" >"$WORK/a/who"
echo "server B" >"$WORK/b/who"
echo "server C" >"$WORK/c/who"

serve() { # BIND DIR LOG: http.server in the background, set $srv
	python3 -m http.server --bind "$1" --directory "$2" "$PORT" >"$3" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	on_exit "[ \$_st -eq 0 ] || dump_logs '$3'"
}
# stop: TERM and wait (reap) until the server process is gone for good.
stop() {
	kill -TERM "$1"
	wait "$1" 2>/dev/null
	! running "$1" || fail "server $1 still running"
}

# A on ADDR6, then B on ADDR6 again: connections reach B right away.
serve "$ADDR6" "$WORK/a" "$WORK/a.log"
wait_up $srv 200 probe -o /dev/null "http://[$ADDR6]:$PORT/who"
check_eq "server A" "$(fetch "http://[$ADDR6]:$PORT/who")" "first server"
stop $srv
serve "$ADDR6" "$WORK/b" "$WORK/b.log"
wait_up $srv 200 probe -o /dev/null "http://[$ADDR6]:$PORT/who"
check_eq "server B" "$(fetch "http://[$ADDR6]:$PORT/who")" "restarted server on the same address"

# B exits; C binds the wildcard on the same port. A connection to the address
# B had must reach C, not a remnant of B.
stop $srv
serve :: "$WORK/c" "$WORK/c.log"
wait_up $srv 200 probe -o /dev/null "http://[::1]:$PORT/who"
for url in "http://[$ADDR6]:$PORT/who" "http://$ADDR:$PORT/who" "http://[::1]:$PORT/who"; do
	got=$(fetch "$url") || fail "curl $url right after the restart on ::"
	check_eq "server C" "$got" "$url after the restart on ::"
done
log PASS
