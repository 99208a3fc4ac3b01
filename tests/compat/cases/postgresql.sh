# PostgreSQL 15 (Debian) <- psql over TCP with SCRAM-SHA-256 passwords: a
# table filled with 20000 rows by the server, a 1 MB file loaded with \copy
# and read back by hash, and the client address the server saw
# (inet_client_addr()). PostgreSQL refuses to run as root, so in the root
# variant its server (initdb, postgres) runs as nobody under the root
# ztnc-run, as a root-started service would drop to its own user.
. "$(dirname "$0")/lib.sh"
PG=/usr/lib/postgresql/15/bin

server() {
	[ -x $PG/postgres ] || fail "$PG/postgres missing (postgresql-15)"
	as=""
	if [ "$(id -u)" = 0 ]; then
		as="setpriv --reuid=65534 --regid=65534 --clear-groups --"
		need setpriv
	fi
	D=$WORK/pg
	mkdir -p "$D/sock" || fail mkdir
	chmod 777 "$D" "$D/sock"
	echo ztnc-secret >"$D/pw"
	chmod 644 "$D/pw"
	$as $PG/initdb -D "$D/data" -U ztnc --pwfile="$D/pw" --auth-local=trust --auth-host=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 >"$D/initdb.log" 2>&1 || fail "initdb: $(tail "$D/initdb.log")"
	cat >>"$D/data/pg_hba.conf" <<HBA
host all all 0.0.0.0/0 scram-sha-256
host all all ::/0 scram-sha-256
HBA
	$as $PG/postgres -D "$D/data" -p "$PORT" -c listen_addresses='*' -c unix_socket_directories="$D/sock" \
		-c logging_collector=off -c log_connections=on >"$D/postgres.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	wait_up $srv 300 $PG/pg_isready -q -h "$A4" -p "$PORT" -t 3
}

client() {
	need psql sha256sum python3
	export PGPASSWORD=ztnc-secret PGCONNECT_TIMEOUT=20
	q() { psql -X -q -v ON_ERROR_STOP=1 -h "$SRV" -p "$PORT" -U ztnc -d postgres -At "$@"; }
	t=t$FAM
	q -c "DROP TABLE IF EXISTS $t; CREATE TABLE $t (id int PRIMARY KEY, v text)" || fail "CREATE TABLE"
	q -c "INSERT INTO $t SELECT i, md5(i::text) FROM generate_series(1, 20000) i" || fail "INSERT"
	check_eq "20000|200010000" "$(q -c "SELECT count(*), sum(id) FROM $t")" "count and sum"
	# The server's digest of every row, and the same computed here.
	want=$(python3 -c "import hashlib as h; print(h.md5(''.join(h.md5(str(i).encode()).hexdigest() for i in range(1, 20001)).encode()).hexdigest())")
	check_eq "$want" "$(q -c "SELECT md5(string_agg(v, '' ORDER BY id)) FROM $t")" "digest of 20000 rows"
	# 1 MB through COPY, back out, by hash.
	head -c 750000 /dev/urandom | base64 -w 76 >"$WORK/lines.$FAM"
	q -c "DROP TABLE IF EXISTS b$t; CREATE TABLE b$t (n serial, line text)" || fail "CREATE TABLE b$t"
	timed "psql copy 1 MB in" q -c "\\copy b$t(line) FROM '$WORK/lines.$FAM'" || fail "\\copy in"
	timed "psql 1 MB out" q -c "SELECT line FROM b$t ORDER BY n" >"$WORK/back.$FAM" || fail "SELECT lines"
	check_sha "$(sha "$WORK/lines.$FAM")" "$WORK/back.$FAM" "1 MB through COPY and back"
	check_eq "$ME" "$(q -c "SELECT host(inet_client_addr())")" "client address seen by the server"
}

main "$@"
