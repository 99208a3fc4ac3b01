# memcached <- libmemcached's command-line client: memccp stores files
# (a 100 kB blob and small ones), memccat reads them back by hash, memcrm
# deletes one, memcstat shows the server's counters.
. "$(dirname "$0")/lib.sh"

server() {
	need memcached
	# As root memcached must be told whom to run as; unprivileged it runs
	# as itself (-u is then not allowed).
	u=""
	[ "$(id -u)" = 0 ] && u="-u nobody"
	memcached $u -p "$PORT" -U 0 -m 64 -v >"$WORK/memcached.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	wait_up $srv 300 sh -c "memcstat --servers=$A4:$PORT | grep -q 'pid:'"
}

client() {
	need memccp memccat memcrm memcstat sha256sum
	s="--servers=$SRVH:$PORT"
	d=$WORK/mc.$FAM
	mkdir -p "$d" || fail mkdir
	mkblob "$d/blob$FAM" 100000
	for i in 1 2 3 4 5; do echo "value $i over IPv$FAM" >"$d/small$FAM-$i"; done
	(cd "$d" && memccp "$s" blob$FAM small$FAM-*) || fail "memccp"
	# memccat appends a newline to each value.
	memccat "$s" "blob$FAM" >"$d/got.raw" || fail "memccat blob"
	check_eq 100001 "$(wc -c <"$d/got.raw" | tr -d ' ')" "size of memccat's output"
	head -c 100000 "$d/got.raw" >"$d/got"
	check_sha "$(sha "$d/blob$FAM")" "$d/got" "100 kB value read back"
	check_eq "value 3 over IPv$FAM" "$(memccat "$s" small$FAM-3)" "small value"
	memcrm "$s" small$FAM-3 || fail "memcrm"
	! memccat "$s" small$FAM-3 >/dev/null 2>&1 || fail "small$FAM-3 still there after memcrm"
	log "ok: memcrm removed small$FAM-3"
	st=$(memcstat "$s") || fail "memcstat"
	check_has "curr_items:" "$st" "memcstat"
	items=$(echo "$st" | sed -n 's/^[[:space:]]*curr_items: //p')
	[ "$items" -ge 5 ] || fail "curr_items $items, want >= 5"
	log "ok: server holds $items items"
}

main "$@"
