// Command ferretserver runs FerretDB, the MongoDB wire protocol server, with
// its SQLite backend, through FerretDB's embeddable package (its own
// cmd/ferretdb refuses to start when built outside its repository, lacking
// the version files its release build generates).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "", "TCP address, e.g. [::]:27017")
	dir := flag.String("dir", "", "directory for the SQLite databases")
	flag.Parse()
	if *listen == "" || *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: ferretserver -listen ADDR -dir DIR")
		os.Exit(2)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dir + "/",
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretserver:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Println("FerretDB listening on", *listen, "URI", f.MongoDBURI())
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "ferretserver:", err)
		os.Exit(1)
	}
}
