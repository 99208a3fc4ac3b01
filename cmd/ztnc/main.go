// Command ztnc manages ztnc's ZeroTier node: its service, its networks, its
// controller and the local lab. The ZeroTier layer is being built; until it
// lands this command only reports its version.
package main

import (
	"fmt"
	"os"
)

const version = "0.1.0-dev"

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "version" || os.Args[1] == "--version") {
		fmt.Println("ztnc", version)
		return
	}
	fmt.Fprintf(os.Stderr, "usage: ztnc version\n(the node service, join/leave and the lab come with the ZeroTier layer)\n")
	os.Exit(2)
}
