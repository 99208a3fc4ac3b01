# Static (CGO_ENABLED=0) Go HTTP server and client, over IPv4 and IPv6:
# a generated body checked by SHA-256 in both directions.
. "$(dirname "$0")/lib.sh"
: "${GOPROGS:?GOPROGS not set}"
srvbin=$GOPROGS/httpserver
clibin=$GOPROGS/httpclient
[ -x "$srvbin" ] && [ -x "$clibin" ] || fail "Go test programs missing in $GOPROGS"

size=2097152
seed="ztnc-$PORT"

run_pair() { # LISTEN BASE WHAT LOG PEER
	"$srvbin" -listen "$1" -seed "$seed" -size $size >"$4" 2>&1 &
	_srv=$!
	on_exit stop_pid $_srv
	wait_up $_srv 200 "$clibin" -probe -base "$2"
	out=$("$clibin" -base "$2" -seed "$seed" -size $size -n 3) || {
		dump_logs "$4"
		fail "$3: client failed: $out"
	}
	log "$3: $out"
	# The server must see the connection come from the same address
	# (accept/getpeername and getsockname through the stack).
	case $out in
	"OK "*" remote=$5:"*" local=$5:$PORT") ;;
	*) fail "$3: unexpected client output: $out (want OK <sum> remote=$5:<port> local=$5:$PORT)" ;;
	esac
	stop_pid $_srv
}

run_pair "$ADDR:$PORT" "http://$ADDR:$PORT" "IPv4 $ADDR" "$WORK/server4.log" "$ADDR"
run_pair "[$ADDR6]:$PORT" "http://[$ADDR6]:$PORT" "IPv6 $ADDR6" "$WORK/server6.log" "[$ADDR6]"
# Also through the loopback, which exists inside ztnc-run too.
run_pair "127.0.0.1:$PORT" "http://127.0.0.1:$PORT" "IPv4 loopback" "$WORK/server-lo.log" 127.0.0.1
log PASS
