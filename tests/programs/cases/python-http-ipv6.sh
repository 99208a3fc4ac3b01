# python3 -m http.server <-> curl over IPv6: on ADDR6 (fd00:9::1 under
# ztnc-run) and on the loopback ::1, plus a dual-stack listener on ::.
. "$(dirname "$0")/lib.sh"
need python3 curl sha256sum

mkdir -p "$WORK/www" || fail "mkdir"
mkblob "$WORK/www/blob.bin" 500000
want=$(sha "$WORK/www/blob.bin")

serve() { # BIND LOG: start http.server in the background, set $srv
	python3 -m http.server --bind "$1" --directory "$WORK/www" "$PORT" >"$2" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	on_exit "[ \$_st -eq 0 ] || dump_logs '$2'"
}

for a in "$ADDR6" ::1; do
	serve "$a" "$WORK/server-$a.log"
	wait_up $srv 200 probe -o /dev/null "http://[$a]:$PORT/"
	fetch -o "$WORK/got" "http://[$a]:$PORT/blob.bin" || fail "curl [$a]"
	check_sha "$want" "$WORK/got" "blob.bin via [$a]"
	# The server saw the request come from the address itself.
	grep -q "^$a - - .*GET /blob.bin" "$WORK/server-$a.log" ||
		fail "server log has no 'GET /blob.bin' from $a"
	stop_pid $srv
	rm -f "$WORK/got"
done

# "::" (http.server's dual-stack default when IPv6 is available): reachable
# over IPv6 and, as IPv4-mapped, over IPv4.
serve :: "$WORK/server-any.log"
wait_up $srv 200 probe -o /dev/null "http://[$ADDR6]:$PORT/"
for url in "http://[$ADDR6]:$PORT/blob.bin" "http://[::1]:$PORT/blob.bin" "http://$ADDR:$PORT/blob.bin"; do
	fetch -o "$WORK/got" "$url" || fail "curl $url"
	check_sha "$want" "$WORK/got" "$url via ::"
	rm -f "$WORK/got"
done
grep -q "^::ffff:$ADDR - - .*GET /blob.bin" "$WORK/server-any.log" ||
	fail "server on :: did not log the IPv4 client as ::ffff:$ADDR"
log PASS
