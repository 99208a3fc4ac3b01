# redis-server <-> redis-cli: SET/GET, INCR, a value with known binary-safe
# content (checked by hash), a list, and a pipelined bulk load counted with
# DBSIZE.
. "$(dirname "$0")/lib.sh"
need redis-server redis-cli sha256sum

R=$WORK/redis
mkdir -p "$R" || fail "mkdir"
redis-server --bind "$ADDR" "$ADDR6" --port "$PORT" --save '' --appendonly no \
	--dir "$R" --pidfile "$R/redis.pid" --logfile "$R/redis.log" --daemonize no \
	--unixsocket '' --protected-mode no >"$R/stdout.log" 2>&1 &
srv=$!
on_exit stop_pid $srv
on_exit '[ $_st -eq 0 ] || dump_logs "$R/stdout.log" "$R/redis.log"'

cli() { redis-cli -h "$ADDR" -p "$PORT" "$@"; }
pong() { [ "$(timeout 3 redis-cli -h "$ADDR" -p "$PORT" ping)" = PONG ]; }
wait_up $srv 200 pong

check_eq OK "$(cli set greeting 'hello ztnc')" "SET greeting"
check_eq "hello ztnc" "$(cli get greeting)" "GET greeting"
check_eq 1 "$(cli incr counter)" "INCR counter"
check_eq 2 "$(cli incr counter)" "INCR counter"
check_eq 42 "$(cli incrby counter 40)" "INCRBY counter 40"

# A 100 kB value of known content, stored with -x (value from stdin) and read
# back raw.
mkblob "$WORK/value.bin" 100000
cli -x set blob <"$WORK/value.bin" >/dev/null || fail "SET blob"
check_eq 100000 "$(cli strlen blob)" "STRLEN blob"
# redis-cli appends a newline to raw output of a bulk string when stdout is
# not a tty; strip exactly that one byte.
cli --raw get blob >"$WORK/got.raw" || fail "GET blob"
head -c 100000 "$WORK/got.raw" >"$WORK/got.bin"
check_eq 100001 "$(wc -c <"$WORK/got.raw" | tr -d ' ')" "size of raw GET output"
check_sha "$(sha "$WORK/value.bin")" "$WORK/got.bin" "GET blob content"

check_eq 3 "$(cli rpush list a b c)" "RPUSH list"
check_eq "a
b
c" "$(cli lrange list 0 -1)" "LRANGE list"

# Pipelined bulk load: 2000 SETs in one connection.
i=0
while [ $i -lt 2000 ]; do
	printf 'SET k%d v%d\n' $i $i
	i=$((i + 1))
done >"$WORK/bulk.txt"
cli --pipe <"$WORK/bulk.txt" >"$WORK/pipe.out" 2>&1 || { cat "$WORK/pipe.out" >&2; fail "redis-cli --pipe"; }
grep -q 'errors: 0, replies: 2000' "$WORK/pipe.out" || fail "pipe: $(cat "$WORK/pipe.out")"
check_eq 2004 "$(cli dbsize)" "DBSIZE"
check_eq v1234 "$(cli get k1234)" "GET k1234"

# Same server over IPv6.
check_eq "hello ztnc" "$(redis-cli -h "$ADDR6" -p "$PORT" get greeting)" "GET greeting over IPv6"
# The server sees both clients by their addresses.
cli client list | grep -q "addr=$ADDR:" || fail "CLIENT LIST lacks a client from $ADDR: $(cli client list)"
log PASS
