# nginx in its default model (daemon, master + 2 workers, epoll, sendfile on)
# <- curl (a 1 MiB file by hash: keep-alive, 4 parallel, a byte range) and
# wrk: 1000 requests over 50 concurrent connections, none failing, counted
# again in nginx's access log. The 2015 matrix's MARGINAL row.
. "$(dirname "$0")/lib.sh"
N=$WORK/nginx

server() {
	need nginx pgrep sha256sum
	mkdir -p "$N/html" "$N/tmp" || fail mkdir
	mkblob "$N/html/big.bin" 1048576
	sha "$N/html/big.bin" >"$WORK/big.sha"
	head -c 4096 /dev/urandom | base64 >"$N/html/small.txt"
	sha "$N/html/small.txt" >"$WORK/small.sha"
	# No `user` directive: as root the workers run as nobody, unprivileged
	# they keep the user's uid.
	cat >"$N/nginx.conf" <<CONF
worker_processes 2;
pid $N/nginx.pid;
error_log $N/error.log info;
events {
	use epoll;
	worker_connections 256;
}
http {
	access_log $N/access.log;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 30;
	keepalive_requests 100000;
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	types { application/octet-stream bin; text/plain txt; }
	server {
		listen $PORT;
		listen [::]:$PORT ipv6only=on;
		root $N/html;
	}
}
CONF
	on_exit stop_pidfile "$N/nginx.pid"
	nginx -p "$N" -e "$N/error.log" -c "$N/nginx.conf" -t >"$N/configtest.log" 2>&1 || fail "nginx -t: $(cat "$N/configtest.log")"
	nginx -p "$N" -e "$N/error.log" -c "$N/nginx.conf" || fail "nginx failed to start: $(tail "$N/error.log")"
	wait_up "" 300 probe -o /dev/null "http://$A4:$PORT/small.txt"
	master=$(cat "$N/nginx.pid")
	log "master $master, workers: $(pgrep -P "$master" | tr '\n' ' ')"
	[ "$(pgrep -P "$master" | wc -l)" -eq 2 ] || fail "want 2 worker processes under master $master"
}

client() {
	need curl wrk sha256sum
	want=$(cat "$WORK/big.sha")
	u="http://$SRVH:$PORT"
	before=$(grep -c '' "$N/access.log")
	timed "curl 3 x 1 MiB keep-alive" fetch -o "$WORK/s1" -o "$WORK/s2" -o "$WORK/s3" "$u/big.bin" "$u/big.bin" "$u/big.bin" || fail "keep-alive fetches"
	for f in s1 s2 s3; do check_sha "$want" "$WORK/$f" "keep-alive fetch $f"; done
	pids=""
	for i in 1 2 3 4; do
		fetch -o "$WORK/p$i" "$u/big.bin" 2>"$WORK/p$i.err" &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p" || fail "a parallel fetch failed: $(cat "$WORK"/p*.err)"; done
	for i in 1 2 3 4; do check_sha "$want" "$WORK/p$i" "parallel fetch $i"; done
	fetch -r 1000-1999 -o "$WORK/range" "$u/big.bin" || fail "range fetch"
	dd if="$N/html/big.bin" of="$WORK/range.want" bs=1000 skip=1 count=1 2>/dev/null
	check_sha "$(sha "$WORK/range.want")" "$WORK/range" "bytes 1000-1999"

	# wrk: 1000 requests over 50 concurrent connections (a Lua script stops
	# each thread after its share of answers); its summary must show >= 1000
	# requests, no errors and no non-2xx answer.
	cat >"$WORK/count.lua" <<'LUA'
-- Each of wrk's 2 threads (25 connections each) stops after 500 answers.
local limit, got = 500, 0
response = function(status, headers, body)
	got = got + 1
	if got >= limit then wrk.thread:stop() end
end
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("WRKSUMMARY requests=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
		summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
end
LUA
	timed "wrk 50 connections" timeout 120 wrk -t 2 -c 50 -d 8s --timeout 8s -s "$WORK/count.lua" --latency "$u/small.txt" >"$WORK/wrk.$FAM" 2>&1
	cat "$WORK/wrk.$FAM" >&2
	sumline=$(grep '^WRKSUMMARY' "$WORK/wrk.$FAM") || fail "wrk printed no summary"
	case $sumline in *"connect=0 read=0 write=0 status=0 timeout=0"*) ;; *) fail "wrk saw errors: $sumline" ;; esac
	nreq=${sumline#*requests=}
	nreq=${nreq%% *}
	[ "$nreq" -ge 1000 ] || fail "wrk completed $nreq requests, want >= 1000"
	! grep -q 'Non-2xx' "$WORK/wrk.$FAM" || fail "wrk got non-2xx answers"
	log "ok: wrk $sumline"
	figure "wrk: $nreq requests over 50 connections, latency $(sed -n 's/^ *Latency *\([^ ]*\) .*/avg \1/p' "$WORK/wrk.$FAM" | head -1), p99 $(sed -n 's/^ *99% *//p' "$WORK/wrk.$FAM")"
	# nginx's own count: every request of this family after $before, all 200.
	sleep 0.5
	tail -n +"$((before + 1))" "$N/access.log" >"$WORK/log.$FAM"
	n200=$(grep -c "^$ME - - .*\"GET /small.txt HTTP/1.1\" 200 " "$WORK/log.$FAM")
	nall=$(grep -c "GET /small.txt" "$WORK/log.$FAM")
	log "nginx logged $nall requests for small.txt from this run, $n200 of them 200 from $ME"
	[ "$n200" -ge 1000 ] && [ "$n200" -eq "$nall" ] || fail "access log: $n200 OK of $nall, want >= 1000 all OK from $ME"
}

main "$@"
