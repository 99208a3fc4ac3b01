package main

// --ephemeral: a fresh identity per run, for containers whose members
// should not outlive them.

import (
	"fmt"
	"os"
)

// ephemeralHome makes a private temporary HOME (mode 0700) in $TMPDIR
// (default /tmp) and returns it with the function that removes it.
func ephemeralHome() (string, func(), error) {
	dir, err := os.MkdirTemp("", "ztnc-ephemeral-")
	if err != nil {
		return "", nil, fmt.Errorf("--ephemeral needs a writable temporary directory ($TMPDIR, else /tmp; in a container e.g. --tmpfs /tmp): %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
