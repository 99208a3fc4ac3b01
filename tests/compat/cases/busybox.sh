# busybox-static (static C): `busybox httpd` <- `busybox wget`: a file by
# hash and a CGI whose output names the client's address.
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox

server() {
	[ -x $BB ] || fail "$BB missing (busybox-static)"
	D=$WORK/www
	mkdir -p "$D/cgi-bin" || fail mkdir
	mkblob "$D/file.bin" 600000
	sha "$D/file.bin" >"$WORK/file.sha"
	cat >"$D/cgi-bin/q" <<CGI
#!$BB sh
echo "Content-Type: text/plain"
echo
echo "query=\$QUERY_STRING remote=\$REMOTE_ADDR"
CGI
	chmod 755 "$D/cgi-bin/q"
	# One httpd per address (busybox httpd binds one address or all, IPv6 only
	# with [::]).
	$BB httpd -f -vv -p "$A4:$PORT" -h "$D" >"$WORK/httpd4.log" 2>&1 &
	s4=$!
	$BB httpd -f -vv -p "[$A6]:$PORT" -h "$D" >"$WORK/httpd6.log" 2>&1 &
	s6=$!
	on_exit stop_pid $s4
	on_exit stop_pid $s6
	wait_up $s4 300 $BB timeout 3 $BB wget -q -O /dev/null "http://$A4:$PORT/file.bin"
	wait_up $s6 300 $BB timeout 3 $BB wget -q -O /dev/null "http://[$A6]:$PORT/file.bin"
}

client() {
	# busybox 1.35's `wget -T` segfaults, so busybox's timeout bounds it.
	bbget() { $BB timeout 30 $BB wget "$@"; }
	for i in 1 2; do
		rm -f "$WORK/got.$FAM"
		timed "busybox wget 600 kB" bbget -q -O "$WORK/got.$FAM" "http://$SRVH:$PORT/file.bin" || fail "wget file.bin #$i"
		check_sha "$(cat "$WORK/file.sha")" "$WORK/got.$FAM" "file.bin via busybox wget #$i"
	done
	got=$(bbget -q -O - "http://$SRVH:$PORT/cgi-bin/q?x=1&y=2") || fail "wget CGI"
	# busybox httpd writes an IPv6 REMOTE_ADDR in brackets (on Linux too).
	check_eq "query=x=1&y=2 remote=$(if [ $FAM = 6 ]; then echo "[$ME]"; else echo "$ME"; fi)" "$got" "CGI output"
}

main "$@"
