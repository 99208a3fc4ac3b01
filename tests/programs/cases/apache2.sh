# apache2 with the prefork MPM (StartServers 3) <-> curl: a static file by
# hash and a CGI script (mod_cgi) whose output is checked exactly, including
# a POSTed body hashed by the script and the addresses apache reports.
. "$(dirname "$0")/lib.sh"
need apache2 curl sha256sum
MODS=/usr/lib/apache2/modules

A=$WORK/apache2
mkdir -p "$A/htdocs" "$A/cgi-bin" "$A/run" || fail "mkdir"
mkblob "$A/htdocs/data.bin" 777777
want=$(sha "$A/htdocs/data.bin")

cat >"$A/cgi-bin/info.cgi" <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "method=$REQUEST_METHOD"
echo "query=$QUERY_STRING"
echo "remote=$REMOTE_ADDR"
echo "server=$SERVER_ADDR:$SERVER_PORT"
if [ "$REQUEST_METHOD" = POST ]; then
	echo "body=$(head -c "$CONTENT_LENGTH" | sha256sum | cut -d' ' -f1)"
fi
echo "uid=$(id -u)"
CGI
chmod 755 "$A/cgi-bin/info.cgi"

# As root apache needs a User to switch its children to; unprivileged it
# keeps its own uid (and User would be ignored with a warning).
if [ "$(id -u)" = 0 ]; then
	userconf="User nobody
Group nogroup"
	childuid=65534
else
	userconf=""
	childuid=$(id -u)
fi

cat >"$A/httpd.conf" <<CONF
ServerRoot "$A"
ServerName ztnc.test
LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule mime_module $MODS/mod_mime.so
LoadModule alias_module $MODS/mod_alias.so
LoadModule cgi_module $MODS/mod_cgi.so
$userconf
Listen $ADDR:$PORT
Listen [$ADDR6]:$PORT
PidFile $A/run/httpd.pid
ErrorLog $A/error.log
LogLevel info
LogFormat "%a %m %U %>s %B" short
CustomLog $A/access.log short
Mutex file:$A/run default
ScoreBoardFile $A/run/scoreboard
DefaultRuntimeDir $A/run
TypesConfig /dev/null
StartServers 3
MinSpareServers 3
MaxSpareServers 5
MaxRequestWorkers 10
DocumentRoot "$A/htdocs"
<Directory />
	Require all granted
</Directory>
ScriptAlias /cgi-bin/ "$A/cgi-bin/"
CONF

on_exit stop_pidfile "$A/run/httpd.pid"
on_exit '[ $_st -eq 0 ] || dump_logs "$A/error.log" "$A/access.log"'
apache2 -t -f "$A/httpd.conf" >"$A/configtest.log" 2>&1 || {
	cat "$A/configtest.log" >&2
	fail "apache2 -t rejected the config"
}
# In its own session: on shutdown the prefork parent signals its whole
# process group, which would otherwise include this script.
need setsid
setsid apache2 -DFOREGROUND -f "$A/httpd.conf" >"$A/stdout.log" 2>&1 &
srv=$!
on_exit stop_pid $srv
wait_up $srv 200 probe -o /dev/null "http://$ADDR:$PORT/data.bin"

# prefork: the parent plus StartServers children (more may come later when
# apache thinks it needs spares, never fewer while idle).
# The parent forks its StartServers children one after another; the first
# may answer before the last exists.
threekids() { [ "$(pgrep -P $srv | wc -l)" -ge 3 ]; }
try_until 100 threekids
kids=$(pgrep -P $srv | wc -l)
[ "$kids" -ge 3 ] || fail "want >= 3 prefork children under pid $srv, have $kids"
log "apache2 parent $srv with $kids children"

for i in 1 2 3; do
	fetch -o "$WORK/got$i" "http://$ADDR:$PORT/data.bin" || fail "curl data.bin #$i"
	check_sha "$want" "$WORK/got$i" "static data.bin #$i"
done
fetch -o "$WORK/got6" "http://[$ADDR6]:$PORT/data.bin" || fail "curl data.bin over IPv6"
check_sha "$want" "$WORK/got6" "static data.bin over IPv6"

got=$(fetch "http://$ADDR:$PORT/cgi-bin/info.cgi?a=1&b=two") || fail "GET CGI"
want_cgi="method=GET
query=a=1&b=two
remote=$ADDR
server=$ADDR:$PORT
uid=$childuid"
check_eq "$want_cgi" "$got" "CGI GET output"

mkblob "$WORK/post.bin" 200000
got=$(fetch --data-binary "@$WORK/post.bin" -H 'Content-Type: application/octet-stream' \
	"http://[$ADDR6]:$PORT/cgi-bin/info.cgi?x") || fail "POST CGI"
want_cgi="method=POST
query=x
remote=$ADDR6
server=$ADDR6:$PORT
body=$(sha "$WORK/post.bin")
uid=$childuid"
check_eq "$want_cgi" "$got" "CGI POST output (IPv6)"

code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 20 "http://$ADDR:$PORT/missing")
check_eq 404 "$code" "status of a missing file"
log PASS
