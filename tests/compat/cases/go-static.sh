# A static Go net/http server (CGO_ENABLED=0, raw syscalls, no libc) <- a
# static Go client: a generated 1 MiB body by hash x3, an upload hashed by
# the server, and the peer/local addresses the server saw.
. "$(dirname "$0")/lib.sh"

server() {
	: "${GOPROGS:?GOPROGS not set}"
	"$GOPROGS/httpserver" -listen "[::]:$PORT" -seed ztnc-compat >"$WORK/server.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	wait_up $srv 300 "$GOPROGS/httpclient" -probe -base "http://$A4:$PORT"
}

client() {
	out=$(timed "static Go client" "$GOPROGS/httpclient" -base "http://$SRVH:$PORT" -seed ztnc-compat -n 3) || fail "client: $out"
	log "$out"
	# The dual-stack server names IPv4 peers as IPv4 (Go unmaps them).
	case $out in
	"OK "*" remote=$(if [ $FAM = 6 ]; then echo "[$ME]"; else echo "$ME"; fi):"*" local=$SRVH:$PORT") ;;
	*) fail "unexpected client output: $out (want OK <sum> remote=<B>:<port> local=<A>:$PORT)" ;;
	esac
	log "ok: the server saw the client as $ME"
}

main "$@"
