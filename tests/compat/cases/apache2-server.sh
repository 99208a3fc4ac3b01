# apache_start: apache2 (prefork, StartServers 3, mod_cgi) on port $PORT of
# every address, serving $WORK/apache2/htdocs/data.bin (hash in
# $WORK/data.sha) and cgi-bin/info.cgi; the CGI children's uid goes to
# $WORK/childuid. Sourced by apache2.sh and nodejs.sh (server side).
MODS=/usr/lib/apache2/modules
apache_start() {
	need apache2 pgrep setsid sha256sum
	AP=$WORK/apache2
	mkdir -p "$AP/htdocs" "$AP/cgi-bin" "$AP/run" || fail mkdir
	mkblob "$AP/htdocs/data.bin" 777777
	sha "$AP/htdocs/data.bin" >"$WORK/data.sha"
	cat >"$AP/cgi-bin/info.cgi" <<'CGI'
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
	chmod 755 "$AP/cgi-bin/info.cgi"
	# As root apache switches its children to User; unprivileged it keeps
	# its own uid.
	if [ "$(id -u)" = 0 ]; then
		userconf="User nobody
Group nogroup"
		echo 65534 >"$WORK/childuid"
	else
		userconf=""
		id -u >"$WORK/childuid"
	fi
	cat >"$AP/httpd.conf" <<CONF
ServerRoot "$AP"
ServerName ztnc.test
LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule mime_module $MODS/mod_mime.so
LoadModule alias_module $MODS/mod_alias.so
LoadModule cgi_module $MODS/mod_cgi.so
$userconf
Listen $A4:$PORT
Listen [$A6]:$PORT
PidFile $AP/run/httpd.pid
ErrorLog $AP/error.log
LogLevel info
LogFormat "%a %m %U %>s %B" short
CustomLog $AP/access.log short
Mutex file:$AP/run default
ScoreBoardFile $AP/run/scoreboard
DefaultRuntimeDir $AP/run
TypesConfig /dev/null
StartServers 3
MinSpareServers 3
MaxSpareServers 5
MaxRequestWorkers 10
DocumentRoot "$AP/htdocs"
<Directory />
	Require all granted
</Directory>
ScriptAlias /cgi-bin/ "$AP/cgi-bin/"
CONF
	apache2 -t -f "$AP/httpd.conf" >"$AP/configtest.log" 2>&1 || fail "apache2 -t: $(cat "$AP/configtest.log")"
	# Its own session: on shutdown the prefork parent signals its process group.
	setsid apache2 -DFOREGROUND -f "$AP/httpd.conf" >"$AP/stdout.log" 2>&1 &
	apsrv=$!
	on_exit stop_pidfile "$AP/run/httpd.pid"
	on_exit stop_pid $apsrv
	wait_up $apsrv 300 probe -o /dev/null "http://$A4:$PORT/data.bin"
	# The parent forks its StartServers children one after another; the
	# first may answer before the last exists.
	WAIT_SECS=20 wait_up $apsrv 200 sh -c "[ \$(pgrep -P $apsrv | wc -l) -ge 3 ]"
	kids=$(pgrep -P $apsrv | wc -l)
	log "apache2 parent $apsrv with $kids prefork children"
}
