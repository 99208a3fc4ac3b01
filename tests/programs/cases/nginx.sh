# nginx (master + 2 workers, epoll, sendfile, default daemon mode) <-> curl:
# a 1 MiB file fetched many times (sequential keep-alive and parallel
# connections), every copy checked by hash, and the access log counted.
. "$(dirname "$0")/lib.sh"
need nginx curl sha256sum

N=$WORK/nginx
mkdir -p "$N/html" "$N/tmp" || fail "mkdir"
mkblob "$N/html/big.bin" 1048576
printf 'nginx ok\n' >"$N/html/index.html"
want=$(sha "$N/html/big.bin")

# No `user` directive: as root nginx then runs its workers as nobody, as an
# unprivileged user it keeps its own uid.
cat >"$N/nginx.conf" <<CONF
worker_processes 2;
pid $N/nginx.pid;
error_log $N/error.log info;
events {
	use epoll;
	worker_connections 64;
}
http {
	access_log $N/access.log;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 30;
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	types { application/octet-stream bin; text/html html; }
	server {
		listen $ADDR:$PORT;
		listen [$ADDR6]:$PORT;
		root $N/html;
	}
}
CONF

on_exit stop_pidfile "$N/nginx.pid"
on_exit '[ $_st -eq 0 ] || dump_logs "$N/error.log"'
nginx -p "$N" -e "$N/error.log" -c "$N/nginx.conf" -t >"$N/configtest.log" 2>&1 || {
	cat "$N/configtest.log" >&2
	fail "nginx -t rejected the config"
}
# Daemon mode: the command returns once the master has forked off.
nginx -p "$N" -e "$N/error.log" -c "$N/nginx.conf" || fail "nginx failed to start"
wait_until 200 probe -o /dev/null "http://$ADDR:$PORT/index.html"
master=$(cat "$N/nginx.pid")
log "master pid $master, workers: $(pgrep -P "$master" | tr '\n' ' ')"
[ "$(pgrep -P "$master" | wc -l)" -eq 2 ] || fail "want 2 worker processes under master $master"

# Sequential requests on one keep-alive connection.
fetch -o "$WORK/seq1" -o "$WORK/seq2" -o "$WORK/seq3" \
	"http://$ADDR:$PORT/big.bin" "http://$ADDR:$PORT/big.bin" "http://$ADDR:$PORT/big.bin" ||
	fail "sequential fetches"
for f in seq1 seq2 seq3; do check_sha "$want" "$WORK/$f" "keep-alive fetch $f"; done

# Parallel connections.
pids=""
for i in 1 2 3 4; do
	fetch -o "$WORK/par$i" "http://$ADDR:$PORT/big.bin" 2>"$WORK/par$i.err" &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "a parallel fetch failed: $(cat "$WORK"/par*.err)"; done
for i in 1 2 3 4; do check_sha "$want" "$WORK/par$i" "parallel fetch $i"; done

# IPv6 and a byte range.
fetch -o "$WORK/v6" "http://[$ADDR6]:$PORT/big.bin" || fail "IPv6 fetch"
check_sha "$want" "$WORK/v6" "IPv6 fetch"
fetch -r 1000-1999 -o "$WORK/range" "http://$ADDR:$PORT/big.bin" || fail "range fetch"
dd if="$N/html/big.bin" of="$WORK/range.want" bs=1000 skip=1 count=1 2>/dev/null
check_sha "$(sha "$WORK/range.want")" "$WORK/range" "range 1000-1999"

# 3 sequential + 4 parallel + 1 IPv6 full-size responses. nginx writes the
# log line when it finalizes the request, which may be just after the client
# has its last byte: give it a moment.
count200() { grep -c '" 200 1048576 ' "$N/access.log"; }
logged8() { [ "$(count200)" -ge 8 ]; }
try_until 50 logged8
check_eq 8 "$(count200)" "full-size 200 responses in access.log"
grep -q '" 206 1000 ' "$N/access.log" || fail "no 206 in access.log"
log PASS
