// Command resolve looks a name up with Go's own resolver (built with
// CGO_ENABLED=0: no libc) and prints "addrs: A B…" or "error: not found".
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, os.Args[1])
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		fmt.Println("error: not found")
	case err != nil:
		fmt.Println("error:", err)
	default:
		sort.Strings(addrs)
		fmt.Println("addrs:", strings.Join(addrs, " "))
	}
}
