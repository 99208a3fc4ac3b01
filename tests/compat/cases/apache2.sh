# apache2 with the prefork MPM (StartServers 3: a parent and several
# children) <- curl: a static file by hash, a CGI (mod_cgi) whose output is
# checked exactly (the client address apache saw is B's), a POSTed body
# hashed by the CGI, a 404. The server part is shared with nodejs.sh (fetch
# from Node to apache).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apache2-server.sh"

server() {
	apache_start
}

client() {
	need curl sha256sum
	u="http://$SRVH:$PORT"
	for i in 1 2 3; do
		fetch -o "$WORK/got$i.$FAM" "$u/data.bin" || fail "curl data.bin #$i"
		check_sha "$(cat "$WORK/data.sha")" "$WORK/got$i.$FAM" "static data.bin #$i"
	done
	got=$(fetch "$u/cgi-bin/info.cgi?a=1&b=two") || fail "GET CGI"
	check_eq "method=GET
query=a=1&b=two
remote=$ME
server=$SRV:$PORT
uid=$(cat "$WORK/childuid")" "$got" "CGI GET output"
	mkblob "$WORK/post.$FAM" 200000
	got=$(fetch --data-binary "@$WORK/post.$FAM" -H 'Content-Type: application/octet-stream' "$u/cgi-bin/info.cgi?x") || fail "POST CGI"
	check_eq "method=POST
query=x
remote=$ME
server=$SRV:$PORT
body=$(sha "$WORK/post.$FAM")
uid=$(cat "$WORK/childuid")" "$got" "CGI POST output"
	code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 20 "$u/missing")
	check_eq 404 "$code" "status of a missing file"
}

main "$@"
