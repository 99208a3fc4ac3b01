// Package identity implements ZeroTier 1.x identities (type 0, C25519): key
// generation with the memory-hard address proof of work, local validation,
// the text forms used in identity.public / identity.secret, the binary form
// carried in HELLO, OK(WHOIS) and worlds, signing, and peer key agreement.
package identity

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"ztnc/zerotier/address"
	"ztnc/zerotier/crypto/c25519"
)

// Type0 is the only identity type in ZeroTier 1.x (C25519).
const Type0 = 0

// Binary sizes.
const (
	PublicBinarySize = address.Size + 1 + c25519.PublicKeySize + 1 // 71
	SecretBinarySize = PublicBinarySize + c25519.PrivateKeySize    // 135
)

// PeerKeySize is the length of the symmetric key two identities agree on
// (ZT_SYMMETRIC_KEY_SIZE in 1.6+).
const PeerKeySize = 48

var (
	// ErrInvalid is wrapped by every parse/decoding error.
	ErrInvalid = errors.New("invalid identity")
	// ErrNotValid is wrapped when an identity fails local validation (its
	// address is not the proof-of-work result of its public key).
	ErrNotValid = errors.New("identity failed local validation")
	// ErrNoPrivateKey is returned by operations needing the secret half.
	ErrNoPrivateKey = errors.New("identity has no private key")
)

// Identity is a ZeroTier node identity. The zero value is not useful; build
// one with Generate, Parse, Decode or New.
type Identity struct {
	Address address.Address
	Public  c25519.PublicKey
	private *c25519.PrivateKey
}

// New assembles an identity from parts without validating it. priv may be nil.
func New(addr address.Address, pub c25519.PublicKey, priv *c25519.PrivateKey) *Identity {
	id := &Identity{Address: addr, Public: pub}
	if priv != nil {
		p := *priv
		id.private = &p
	}
	return id
}

// HasPrivate reports whether the secret key is present.
func (id *Identity) HasPrivate() bool { return id.private != nil }

// Private returns a copy of the secret key.
func (id *Identity) Private() (c25519.PrivateKey, error) {
	if id.private == nil {
		return c25519.PrivateKey{}, ErrNoPrivateKey
	}
	return *id.private, nil
}

// PublicOnly returns a copy without the secret key.
func (id *Identity) PublicOnly() *Identity {
	return &Identity{Address: id.Address, Public: id.Public}
}

// Equal compares address and public key (not the secret), as ZeroTier does
// when checking for address collisions.
func (id *Identity) Equal(o *Identity) bool {
	return o != nil && id.Address == o.Address && id.Public == o.Public
}

// Generate makes a new identity: random Ed25519 key, then fresh X25519 keys
// until the memory-hard hash of the public key passes the threshold and yields
// a non-reserved address. Expect ~15 hash runs (a few hundred ms).
// r supplies entropy; nil means crypto/rand.
func Generate(r io.Reader) (*Identity, error) {
	if r == nil {
		r = rand.Reader
	}
	for {
		var priv c25519.PrivateKey
		if _, err := io.ReadFull(r, priv[32:]); err != nil {
			return nil, fmt.Errorf("identity: read entropy: %w", err)
		}
		// The Ed25519 half is fixed; only the X25519 half is re-rolled (any
		// way of choosing a new X25519 secret is as good as 1.14's).
		for {
			if _, err := io.ReadFull(r, priv[:32]); err != nil {
				return nil, fmt.Errorf("identity: read entropy: %w", err)
			}
			pub, err := priv.Public()
			if err != nil {
				return nil, err
			}
			d := memoryHardHash(&pub)
			if d[0] >= hashThreshold {
				continue
			}
			addr, _ := address.FromBytes(d[59:64])
			if addr.IsReserved() {
				break // start over with a new Ed25519 key, as ZeroTier does
			}
			return New(addr, pub, &priv), nil
		}
	}
}

// LocallyValidate checks that the address is not reserved and is the
// proof-of-work result of the public key. It costs one memory-hard hash.
// It does not check that a present private key matches (see CheckPrivate).
func (id *Identity) LocallyValidate() error {
	if id.Address.IsReserved() {
		return fmt.Errorf("%w: address %s is reserved", ErrNotValid, id.Address)
	}
	d := memoryHardHash(&id.Public)
	if d[0] >= hashThreshold {
		return fmt.Errorf("%w: %s: work digest byte %d >= %d", ErrNotValid, id.Address, d[0], hashThreshold)
	}
	got, _ := address.FromBytes(d[59:64])
	if got != id.Address {
		return fmt.Errorf("%w: %s: public key hashes to address %s", ErrNotValid, id.Address, got)
	}
	return nil
}

// CheckPrivate verifies that the secret key derives the public key. ZeroTier
// does not check this, but a mismatched identity.secret would make a node
// that cannot decrypt anything, so loaders should.
func (id *Identity) CheckPrivate() error {
	if id.private == nil {
		return ErrNoPrivateKey
	}
	pub, err := id.private.Public()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if pub != id.Public {
		return fmt.Errorf("%w: private key does not match public key", ErrInvalid)
	}
	return nil
}

// String is the public text form "address:0:publichex".
func (id *Identity) String() string {
	return id.Address.String() + ":0:" + hex.EncodeToString(id.Public[:])
}

// SecretString is the text form written to identity.secret:
// "address:0:publichex:privatehex".
func (id *Identity) SecretString() (string, error) {
	if id.private == nil {
		return "", ErrNoPrivateKey
	}
	return id.String() + ":" + hex.EncodeToString(id.private[:]), nil
}

// Parse reads the public (3 field) or secret (4 field) text form. Like
// ZeroTier, empty fields are skipped and surrounding whitespace (a trailing
// newline in a file) is ignored. It does not run LocallyValidate.
func Parse(s string) (*Identity, error) {
	s = strings.TrimSpace(s)
	var fields []string
	for _, f := range strings.Split(s, ":") {
		if f != "" {
			fields = append(fields, f)
		}
	}
	if len(fields) != 3 && len(fields) != 4 {
		return nil, fmt.Errorf("%w: want 3 or 4 ':'-separated fields, got %d", ErrInvalid, len(fields))
	}
	addr, err := address.Parse(fields[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if addr.IsReserved() {
		return nil, fmt.Errorf("%w: address %s is reserved", ErrInvalid, addr)
	}
	if fields[1] != "0" {
		return nil, fmt.Errorf("%w: unsupported identity type %q", ErrInvalid, fields[1])
	}
	id := &Identity{Address: addr}
	if err := unhexKey(id.Public[:], fields[2], "public"); err != nil {
		return nil, err
	}
	if len(fields) == 4 {
		var priv c25519.PrivateKey
		if err := unhexKey(priv[:], fields[3], "private"); err != nil {
			return nil, err
		}
		id.private = &priv
	}
	return id, nil
}

func unhexKey(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%w: %s key must be %d hex digits, got %d", ErrInvalid, what, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%w: %s key: %v", ErrInvalid, what, err)
	}
	return nil
}

// AppendBinary appends the binary form (VL1.md 1.6). withPrivate adds the
// secret key (135 bytes total); ZeroTier never sends that on the wire.
func (id *Identity) AppendBinary(b []byte, withPrivate bool) ([]byte, error) {
	a := id.Address.Bytes()
	b = append(b, a[:]...)
	b = append(b, Type0)
	b = append(b, id.Public[:]...)
	if withPrivate {
		if id.private == nil {
			return nil, ErrNoPrivateKey
		}
		b = append(b, c25519.PrivateKeySize)
		return append(b, id.private[:]...), nil
	}
	return append(b, 0), nil
}

// MarshalBinary returns the 71-byte public binary form.
func (id *Identity) MarshalBinary() ([]byte, error) {
	return id.AppendBinary(make([]byte, 0, PublicBinarySize), false)
}

// Decode reads one binary identity from the start of b and returns it with
// the number of bytes consumed. A private key present on the wire is read
// past and discarded unless keepPrivate is set.
func Decode(b []byte, keepPrivate bool) (*Identity, int, error) {
	if len(b) < PublicBinarySize {
		return nil, 0, fmt.Errorf("%w: binary form needs %d bytes, have %d", ErrInvalid, PublicBinarySize, len(b))
	}
	addr, _ := address.FromBytes(b)
	if b[5] != Type0 {
		return nil, 0, fmt.Errorf("%w: unsupported identity type %d", ErrInvalid, b[5])
	}
	id := &Identity{Address: addr}
	copy(id.Public[:], b[6:70])
	switch b[70] {
	case 0:
		return id, PublicBinarySize, nil
	case c25519.PrivateKeySize:
		if len(b) < SecretBinarySize {
			return nil, 0, fmt.Errorf("%w: truncated private key", ErrInvalid)
		}
		if keepPrivate {
			var priv c25519.PrivateKey
			copy(priv[:], b[71:135])
			id.private = &priv
		}
		return id, SecretBinarySize, nil
	default:
		return nil, 0, fmt.Errorf("%w: private key length %d", ErrInvalid, b[70])
	}
}

// UnmarshalBinary decodes exactly one binary identity (trailing bytes are an error).
func (id *Identity) UnmarshalBinary(b []byte) error {
	got, n, err := Decode(b, true)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("%w: %d trailing bytes", ErrInvalid, len(b)-n)
	}
	*id = *got
	return nil
}

// Sign makes a 96-byte ZeroTier signature of msg.
func (id *Identity) Sign(msg []byte) ([]byte, error) {
	if id.private == nil {
		return nil, ErrNoPrivateKey
	}
	sig := c25519.Sign(id.private, msg)
	return sig[:], nil
}

// Verify checks a signature made by this identity.
func (id *Identity) Verify(msg, sig []byte) error {
	return c25519.Verify(&id.Public, msg, sig)
}

// Agree derives the 48-byte symmetric key shared with peer (both sides get
// the same key). It needs our private key.
func (id *Identity) Agree(peer *Identity) ([PeerKeySize]byte, error) {
	var k [PeerKeySize]byte
	if id.private == nil {
		return k, ErrNoPrivateKey
	}
	if err := c25519.Agree(id.private, &peer.Public, k[:]); err != nil {
		return k, fmt.Errorf("identity: agree with %s: %w", peer.Address, err)
	}
	return k, nil
}
