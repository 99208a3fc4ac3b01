# python3's http.server (dual-stack on ::) <- urllib on the other node: a
# 1 MiB file by hash, a directory listing, a 404, and the client address the
# server logged (B's own virtual address).
. "$(dirname "$0")/lib.sh"

server() {
	need python3 sha256sum
	mkdir -p "$WORK/www" || fail mkdir
	mkblob "$WORK/www/blob.bin" 1048576
	sha "$WORK/www/blob.bin" >"$WORK/blob.sha"
	cd "$WORK/www" || fail cd
	python3 -m http.server "$PORT" --bind :: >"$WORK/http.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	wait_up $srv 300 python3 -c "import urllib.request as u; u.urlopen('http://$A4:$PORT/', timeout=3)"
}

client() {
	need python3
	timed "urllib 1 MiB" python3 - "http://$SRVH:$PORT" "$WORK/got.$FAM" <<'PY' || fail "urllib fetch"
import sys, urllib.request, urllib.error
base, out = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(base + "/blob.bin", timeout=30) as r:
    open(out, "wb").write(r.read())
listing = urllib.request.urlopen(base + "/", timeout=30).read().decode()
assert 'href="blob.bin"' in listing, listing
try:
    urllib.request.urlopen(base + "/missing", timeout=30)
    sys.exit("no 404 for /missing")
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code
print("listing and 404 as expected")
PY
	check_sha "$(cat "$WORK/blob.sha")" "$WORK/got.$FAM" "1 MiB file fetched by urllib from $SRV"
	# http.server logs "ADDR - - [...] "GET /blob.bin ..." 200": B's address.
	sleep 0.2
	# (IPv4 clients of the dual-stack socket appear IPv4-mapped, as on Linux.)
	grep -Eq "^(::ffff:)?$ME - - .*\"GET /blob.bin HTTP/1.1\" 200" "$WORK/http.log" ||
		fail "the server did not log a GET from $ME: $(grep blob.bin "$WORK/http.log")"
	log "ok: the server saw the client as $ME"
}

main "$@"
