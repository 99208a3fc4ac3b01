# python3 -m http.server <-> curl over IPv6: on ADDR6 (fd00:9::1 under
# ztnc-run) and on the loopback ::1, plus a dual-stack listener on ::
# (reached over IPv6 and, IPv4-mapped, over IPv4). Each server has a port of
# its own; restarting on the same port is restart-same-port's business.
. "$(dirname "$0")/lib.sh"
need python3 curl sha256sum
: "${PORT2:?}" "${PORT3:?}"

mkdir -p "$WORK/www" || fail "mkdir"
mkblob "$WORK/www/blob.bin" 500000
want=$(sha "$WORK/www/blob.bin")

serve() { # BIND PORT LOG: start http.server in the background, set $srv
	python3 -m http.server --bind "$1" --directory "$WORK/www" "$2" >"$3" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	on_exit "[ \$_st -eq 0 ] || dump_logs '$3'"
}

serve "$ADDR6" "$PORT" "$WORK/server-addr6.log"
srv_a=$srv
serve ::1 "$PORT2" "$WORK/server-lo6.log"
srv_b=$srv
serve :: "$PORT3" "$WORK/server-any.log"
srv_c=$srv
wait_up $srv_a 200 probe -o /dev/null "http://[$ADDR6]:$PORT/"
wait_up $srv_b 200 probe -o /dev/null "http://[::1]:$PORT2/"
wait_up $srv_c 200 probe -o /dev/null "http://[$ADDR6]:$PORT3/"

get() { # URL
	rm -f "$WORK/got"
	fetch -o "$WORK/got" "$1" || fail "curl $1"
	check_sha "$want" "$WORK/got" "$1"
}
get "http://[$ADDR6]:$PORT/blob.bin"
get "http://[::1]:$PORT2/blob.bin"
# The server saw each request come from the address itself.
grep -q "^$ADDR6 - - .*GET /blob.bin" "$WORK/server-addr6.log" ||
	fail "server on $ADDR6 did not log 'GET /blob.bin' from $ADDR6"
grep -q "^::1 - - .*GET /blob.bin" "$WORK/server-lo6.log" ||
	fail "server on ::1 did not log 'GET /blob.bin' from ::1"

# A specific IPv6 address does not answer for another one (when validating
# on the host ADDR6 is ::1 itself, so there is nothing to check).
if [ "$ADDR6" != ::1 ]; then
	code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 5 "http://[::1]:$PORT/blob.bin")
	check_eq 000 "$code" "HTTP status from [::1]:$PORT where only $ADDR6 listens (no connection)"
fi

# "::" (http.server makes it dual-stack): IPv6, loopback and IPv4-mapped.
get "http://[$ADDR6]:$PORT3/blob.bin"
get "http://[::1]:$PORT3/blob.bin"
get "http://$ADDR:$PORT3/blob.bin"
get "http://127.0.0.1:$PORT3/blob.bin"
for from in "$ADDR6" ::1 "::ffff:$ADDR" ::ffff:127.0.0.1; do
	grep -q "^$from - - .*GET /blob.bin" "$WORK/server-any.log" ||
		fail "server on :: did not log a request from $from"
done
log PASS
