# Node.js: an `http` server (dual-stack) <- a `net` client speaking HTTP/1.1
# by hand (a 1.5 MB body by hash, a POST hashed by the server, the peer
# address the server saw), and `fetch` from Node to apache2 prefork (the
# apache2 case's server, on PORT2 of the same node A).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apache2-server.sh"

server() {
	need node
	mkblob "$WORK/served.bin" 1500000
	sha "$WORK/served.bin" >"$WORK/served.sha"
	cat >"$WORK/server.js" <<'JS'
const http = require('http'), fs = require('fs'), crypto = require('crypto');
const [port, file] = process.argv.slice(2);
http.createServer((req, res) => {
  if (req.url === '/file') {
    res.writeHead(200, {'Content-Type': 'application/octet-stream', 'Content-Length': fs.statSync(file).size});
    fs.createReadStream(file).pipe(res);
  } else if (req.url === '/hash' && req.method === 'POST') {
    const h = crypto.createHash('sha256'); let n = 0;
    req.on('data', (c) => { h.update(c); n += c.length; });
    req.on('end', () => res.end(`${n} ${h.digest('hex')}\n`));
  } else if (req.url === '/peer') {
    res.end(`${req.socket.remoteAddress.replace(/^::ffff:/, '')}\n`);
  } else { res.writeHead(404); res.end('not found\n'); }
}).listen(Number(port), '::', () => console.log('ready'));
JS
	node "$WORK/server.js" "$PORT" "$WORK/served.bin" >"$WORK/node.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	wait_up $srv 300 probe -o /dev/null "http://$A4:$PORT/peer"
	_port=$PORT
	PORT=$PORT2
	apache_start
	PORT=$_port
}

client() {
	need node
	cat >"$WORK/client.js" <<'JS'
// A net client: raw HTTP/1.1 requests, responses parsed by hand.
const net = require('net'), crypto = require('crypto');
const [host, port, apachePort, wantFile, wantApache, me] = process.argv.slice(2);
function request(raw) {
  return new Promise((resolve, reject) => {
    const s = net.connect({host, port: Number(port)}, () => s.write(raw)); // no half-close: node's http server would end the reply early
    const chunks = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => {
      const buf = Buffer.concat(chunks), i = buf.indexOf('\r\n\r\n');
      if (i < 0) return reject(new Error('no header end'));
      resolve({head: buf.subarray(0, i).toString(), body: buf.subarray(i + 4)});
    });
    s.on('error', reject);
    s.setTimeout(30000, () => s.destroy(new Error('timeout')));
  });
}
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
(async () => {
  const r = await request(`GET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  if (!r.head.startsWith('HTTP/1.1 200')) throw new Error('GET /file: ' + r.head);
  if (sha(r.body) !== wantFile) throw new Error(`GET /file: sha256 ${sha(r.body)} of ${r.body.length} bytes`);
  console.log(`ok: net client GET /file, ${r.body.length} bytes, sha256 ${wantFile}`);
  const up = crypto.randomBytes(800000);
  const p = await request(Buffer.concat([Buffer.from(`POST /hash HTTP/1.1\r\nHost: x\r\nContent-Length: ${up.length}\r\nConnection: close\r\n\r\n`), up]));
  if (p.body.toString() !== `${up.length} ${sha(up)}\n`) throw new Error('POST /hash: ' + p.body);
  console.log('ok: net client POST /hash, the server hashed the same 800000 bytes');
  const w = await request(`GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  if (w.body.toString().trim() !== me) throw new Error(`the server saw ${w.body} not ${me}`);
  console.log(`ok: the server saw the client as ${me}`);
  const h = host.includes(':') ? `[${host}]` : host;
  const f = await fetch(`http://${h}:${apachePort}/data.bin`);
  const body = Buffer.from(await f.arrayBuffer());
  if (f.status !== 200 || sha(body) !== wantApache) throw new Error(`fetch from apache2: ${f.status}, sha256 ${sha(body)}`);
  console.log(`ok: fetch from apache2 prefork, ${body.length} bytes, sha256 ${wantApache}`);
})().catch((e) => { console.error('FAIL:', e.message); process.exit(1); });
JS
	timed "node net client + fetch" node "$WORK/client.js" "$SRV" "$PORT" "$PORT2" "$(cat "$WORK/served.sha")" "$(cat "$WORK/data.sha")" "$ME" ||
		fail "node client"
}

main "$@"
