# busybox-static httpd <-> busybox-static wget: both ends are the static C
# binary /bin/busybox. A file checked by hash (IPv4 and IPv6), and a CGI
# script run by busybox's own sh.
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox
[ -x $BB ] || fail "$BB missing (Debian package busybox-static)"
# Statically linked: ldd has nothing to load (also checked by the Go test).
if ldd $BB >/dev/null 2>&1; then fail "$BB is dynamically linked: $(ldd $BB)"; fi

D=$WORK/bbwww
mkdir -p "$D/cgi-bin" || fail "mkdir"
mkblob "$D/file.bin" 654321
want=$(sha "$D/file.bin")
cat >"$D/cgi-bin/q" <<CGI
#!$BB sh
echo "Content-Type: text/plain"
echo
echo "query=\$QUERY_STRING remote=\$REMOTE_ADDR"
CGI
chmod 755 "$D/cgi-bin/q"

# busybox 1.35's `wget -T` segfaults (also on the host), so wget is bounded
# by busybox's own timeout applet instead.
bbget() { $BB timeout 20 $BB wget "$@"; }

$BB httpd -f -vv -p "$ADDR:$PORT" -h "$D" >"$WORK/httpd.log" 2>&1 &
srv=$!
on_exit stop_pid $srv
on_exit '[ $_st -eq 0 ] || dump_logs "$WORK/httpd.log" "$WORK/httpd6.log"'
wait_up $srv 200 $BB timeout 3 $BB wget -q -O /dev/null "http://$ADDR:$PORT/file.bin"

for i in 1 2; do
	rm -f "$WORK/got"
	bbget -q -O "$WORK/got" "http://$ADDR:$PORT/file.bin" || fail "wget file.bin #$i"
	check_sha "$want" "$WORK/got" "file.bin via busybox wget #$i"
done

got=$(bbget -q -O - "http://$ADDR:$PORT/cgi-bin/q?x=1&y=2") || fail "wget CGI"
check_eq "query=x=1&y=2 remote=$ADDR" "$got" "CGI output"

# IPv6: a second httpd on ADDR6.
$BB httpd -f -vv -p "[$ADDR6]:$PORT" -h "$D" >"$WORK/httpd6.log" 2>&1 &
srv6=$!
on_exit stop_pid $srv6
wait_up $srv6 200 $BB timeout 3 $BB wget -q -O /dev/null "http://[$ADDR6]:$PORT/file.bin"
rm -f "$WORK/got"
bbget -q -O "$WORK/got" "http://[$ADDR6]:$PORT/file.bin" || fail "wget over IPv6"
check_sha "$want" "$WORK/got" "file.bin via busybox wget over IPv6"
log PASS
