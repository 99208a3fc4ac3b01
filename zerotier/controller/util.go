package controller

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

func sortStrings(s []string) { sort.Strings(s) }

func sortMembers(ms []*MemberRecord) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].Address < ms[j].Address })
}

func removeAll(dir, nwid string) error {
	if err := os.Remove(filepath.Join(dir, "network", nwid+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("controller: delete network: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "network", nwid)); err != nil {
		return fmt.Errorf("controller: delete network members: %w", err)
	}
	return nil
}

func removeFile(dir, nwid, addr string) error {
	if err := os.Remove(filepath.Join(dir, "network", nwid, "member", addr+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("controller: delete member: %w", err)
	}
	return nil
}
