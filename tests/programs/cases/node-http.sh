# node's http module (a server on IPv4 and IPv6) <-> curl: a served file by
# hash, a chunked streamed response, and a POST whose hash node computes.
. "$(dirname "$0")/lib.sh"
need node curl sha256sum

mkblob "$WORK/served.bin" 1500000
want=$(sha "$WORK/served.bin")

cat >"$WORK/server.js" <<'JS'
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');
const [addr, addr6, port, file] = process.argv.slice(2);
const handler = (req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname === '/file') {
    res.writeHead(200, {'Content-Type': 'application/octet-stream'});
    fs.createReadStream(file).pipe(res);
  } else if (u.pathname === '/stream') {
    // Chunked: n lines written with a pause between them.
    const n = Number(u.searchParams.get('n') || 10);
    res.writeHead(200, {'Content-Type': 'text/plain'});
    let i = 0;
    const tick = () => {
      if (i === n) return res.end();
      res.write(`line ${i++}\n`);
      setTimeout(tick, 5);
    };
    tick();
  } else if (u.pathname === '/hash' && req.method === 'POST') {
    const h = crypto.createHash('sha256');
    let len = 0;
    req.on('data', (c) => { h.update(c); len += c.length; });
    req.on('end', () => res.end(`${len} ${h.digest('hex')}\n`));
  } else if (u.pathname === '/peer') {
    res.end(`${req.socket.remoteAddress} ${req.socket.localAddress}:${req.socket.localPort}\n`);
  } else {
    res.writeHead(404);
    res.end('not found\n');
  }
};
let listening = 0;
for (const a of [addr, addr6]) {
  http.createServer(handler).listen(Number(port), a, () => {
    console.log(`listening on ${a} port ${port}`);
    if (++listening === 2) console.log('ready');
  }).on('error', (e) => { console.error(`listen ${a}: ${e}`); process.exit(1); });
}
JS

node "$WORK/server.js" "$ADDR" "$ADDR6" "$PORT" "$WORK/served.bin" >"$WORK/node.log" 2>&1 &
srv=$!
on_exit stop_pid $srv
on_exit '[ $_st -eq 0 ] || dump_logs "$WORK/node.log"'
ready() { grep -qx ready "$WORK/node.log" && probe -o /dev/null "http://$ADDR:$PORT/peer"; }
wait_up $srv 300 ready

for url in "http://$ADDR:$PORT/file" "http://[$ADDR6]:$PORT/file"; do
	fetch -o "$WORK/got" "$url" || fail "curl $url"
	check_sha "$want" "$WORK/got" "$url"
	rm -f "$WORK/got"
done

got=$(fetch "http://$ADDR:$PORT/stream?n=50") || fail "curl /stream"
check_eq "$(i=0; while [ $i -lt 50 ]; do echo "line $i"; i=$((i + 1)); done)" "$got" "chunked /stream body"

mkblob "$WORK/up.bin" 800000
got=$(fetch --data-binary "@$WORK/up.bin" "http://[$ADDR6]:$PORT/hash") || fail "curl POST /hash"
check_eq "800000 $(sha "$WORK/up.bin")" "$got" "POST /hash over IPv6"

check_eq "$ADDR $ADDR:$PORT" "$(fetch "http://$ADDR:$PORT/peer")" "peer/local address seen by node (IPv4)"
check_eq "$ADDR6 $ADDR6:$PORT" "$(fetch "http://[$ADDR6]:$PORT/peer")" "peer/local address seen by node (IPv6)"
log PASS
