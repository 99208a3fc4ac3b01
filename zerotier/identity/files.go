package identity

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names in a ZeroTier home directory (service/OneService.cpp).
const (
	SecretFileName = "identity.secret"
	PublicFileName = "identity.public"
)

// ReadFile parses an identity.secret or identity.public file.
func ReadFile(path string) (*Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	id, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", path, err)
	}
	return id, nil
}

// WriteFiles writes identity.secret (mode 0600) and identity.public (0644)
// into dir in ZeroTier's format: the bare string, no trailing newline.
func (id *Identity) WriteFiles(dir string) error {
	sec, err := id.SecretString()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, SecretFileName), []byte(sec), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, PublicFileName), []byte(id.String()), 0o644)
}

// writeFileAtomic writes via a temporary file and rename so a crash never
// leaves a truncated identity.secret (which would make the node refuse to start).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("identity: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("identity: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("identity: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}

// LoadOrGenerate does what ZeroTier One 1.12+ does at start-up with the home
// directory dir: read identity.secret; if it is missing, generate a new
// identity and write both files; if it exists but does not parse, has no
// private key, or fails validation, return an error (never silently replace
// an identity). identity.public is rewritten when it is missing or differs.
// created reports whether a new identity was generated.
func LoadOrGenerate(dir string) (id *Identity, created bool, err error) {
	secretPath := filepath.Join(dir, SecretFileName)
	id, err = ReadFile(secretPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		id, err = Generate(nil)
		if err != nil {
			return nil, false, err
		}
		if err := id.WriteFiles(dir); err != nil {
			return nil, false, err
		}
		return id, true, nil
	case err != nil:
		return nil, false, err
	}
	if !id.HasPrivate() {
		return nil, false, fmt.Errorf("identity: %s: %w", secretPath, ErrNoPrivateKey)
	}
	if err := id.CheckPrivate(); err != nil {
		return nil, false, fmt.Errorf("identity: %s: %w", secretPath, err)
	}
	if err := id.LocallyValidate(); err != nil {
		return nil, false, fmt.Errorf("identity: %s: %w", secretPath, err)
	}
	pubPath := filepath.Join(dir, PublicFileName)
	if cur, err := os.ReadFile(pubPath); err != nil || !bytes.Equal(cur, []byte(id.String())) {
		if err := writeFileAtomic(pubPath, []byte(id.String()), 0o644); err != nil {
			return nil, false, err
		}
	}
	return id, false, nil
}
