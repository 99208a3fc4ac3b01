# MongoDB's wire protocol: FerretDB 1.24 (Go, SQLite backend; MongoDB itself
# is in no package registry) <- a Go client on the official mongo-driver
# 1.17: 500 documents inserted, found in order with their 2 KiB payloads
# intact, counted, updated and deleted (mongo/mongoclient checks each step).
. "$(dirname "$0")/lib.sh"

server() {
	: "${MONGO:?MONGO not set}"
	mkdir -p "$WORK/ferretdb" || fail mkdir
	"$MONGO/ferretserver" -listen "[::]:$PORT" -dir "$WORK/ferretdb" >"$WORK/ferretdb.log" 2>&1 &
	srv=$!
	on_exit stop_pid $srv
	wait_up $srv 300 "$MONGO/mongoclient" -probe -uri "mongodb://$A4:$PORT/"
}

client() {
	out=$(timed "mongo-driver client" "$MONGO/mongoclient" -uri "mongodb://$SRVH:$PORT/" -coll "items_ipv$FAM" 2>&1) || fail "mongoclient: $out"
	log "$out"
	check_has "OK inserted 500, found 500 in order" "$out" "mongoclient"
}

main "$@"
