# redis-server <- redis-cli on the other node (SET/GET, INCR, a 100 kB value
# by hash, a 2000-command pipeline, the client address the server sees), then
# `redis-benchmark -q -n 10000`, every test of which must report a rate.
. "$(dirname "$0")/lib.sh"

server() {
	need redis-server redis-cli
	mkdir -p "$WORK/redis" || fail mkdir
	redis-server --bind "$A4" "$A6" --port "$PORT" --save '' --appendonly no \
		--dir "$WORK/redis" --logfile "$WORK/redis/redis.log" --daemonize no \
		--protected-mode no >"$WORK/redis/stdout.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	wait_up $srv 300 sh -c "[ \"\$(redis-cli -h $A4 -p $PORT ping)\" = PONG ]"
}

client() {
	need redis-cli redis-benchmark sha256sum
	cli() { timeout 30 redis-cli -h "$SRV" -p "$PORT" "$@"; }
	k=ipv$FAM
	check_eq OK "$(cli set "$k:greeting" 'hello ztnc')" "SET"
	check_eq "hello ztnc" "$(cli get "$k:greeting")" "GET"
	check_eq 1 "$(cli incr "$k:counter")" "INCR"
	check_eq 42 "$(cli incrby "$k:counter" 41)" "INCRBY 41"
	mkblob "$WORK/value.$FAM" 100000
	cli -x set "$k:blob" <"$WORK/value.$FAM" >/dev/null || fail "SET blob"
	cli --raw get "$k:blob" | head -c 100000 >"$WORK/got.$FAM"
	check_sha "$(sha "$WORK/value.$FAM")" "$WORK/got.$FAM" "100 kB value read back"
	i=0
	while [ $i -lt 2000 ]; do
		printf 'SET %s:k%d v%d\n' "$k" $i $i
		i=$((i + 1))
	done >"$WORK/bulk.$FAM"
	cli --pipe <"$WORK/bulk.$FAM" >"$WORK/pipe.$FAM" 2>&1 || fail "redis-cli --pipe: $(cat "$WORK/pipe.$FAM")"
	grep -q 'errors: 0, replies: 2000' "$WORK/pipe.$FAM" || fail "pipe: $(cat "$WORK/pipe.$FAM")"
	log "ok: 2000 pipelined SETs, no errors"
	check_eq v1234 "$(cli get "$k:k1234")" "GET of a pipelined key"
	case $FAM in 4) want="addr=$ME:" ;; 6) want="addr=[$ME]:" ;; esac
	cli client list | grep -qF "$want" || fail "CLIENT LIST lacks $want: $(cli client list)"
	log "ok: the server sees the client as $ME"
	timed "redis-benchmark -q -n 10000" sh -c "timeout 90 redis-benchmark -h '$SRV' -p '$PORT' -q -n 10000 >'$WORK/bench.$FAM' 2>&1" ||
		fail "redis-benchmark: $(tail -n 5 "$WORK/bench.$FAM")"
	tr '\r' '\n' <"$WORK/bench.$FAM" | grep 'requests per second' >"$WORK/rates.$FAM"
	cat "$WORK/rates.$FAM" >&2
	n=$(wc -l <"$WORK/rates.$FAM")
	[ "$n" -ge 15 ] || fail "redis-benchmark reported $n tests, want >= 15: $(cat "$WORK/bench.$FAM")"
	! grep -qi error "$WORK/bench.$FAM" || fail "redis-benchmark: $(grep -i error "$WORK/bench.$FAM")"
	log "ok: redis-benchmark ran $n tests"
	figure "redis-benchmark: $(grep -E '^(SET|GET|LPUSH|MSET \(10 keys\)):' "$WORK/rates.$FAM" | sed 's/ requests per second.*/ req\/s/' | tr -s ' ' | paste -sd, - | sed 's/,/, /g')"
}

main "$@"
