package idtool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"ztnc/zerotier/identity"
)

// Usage lists the commands (the reference's help plus mkplanet).
const Usage = `usage: ztnc idtool <command> [<args>]

commands:
  generate [<identity.secret>] [<identity.public>] [<vanity>]
  validate <identity.secret/public>
  getpublic <identity.secret>
  sign <identity.secret> <file>
  verify <identity.secret/public> <file> <signature>
  initmoon <identity.public of first seed>
  genmoon <moon json>
  mkplanet <planet json> [<output file, default ./planet>]

An identity argument is a file or, if longer than 32 characters with ':' at
index 10, the identity itself. genmoon writes <16 hex digit id>.moon into
the current directory. World JSON may carry "timestamp" (ms) to fix the revision.
`

// Env is what Run needs from the outside world, replaceable in tests.
type Env struct {
	Stdout, Stderr io.Writer
	Dir            string        // where genmoon/mkplanet write by default ("" = current directory)
	Now            func() uint64 // world timestamp in ms (nil = the clock)
	Rand           io.Reader     // entropy (nil = crypto/rand)
}

// Run executes one idtool command and returns the exit status: 0 on
// success, 1 when the command fails (as the reference), 2 for bad usage.
// Messages for the reference's failure cases are the reference's.
func Run(args []string, env Env) int {
	usage := func(msg string) int {
		fmt.Fprintf(env.Stderr, "ztnc idtool: %s\n\n%s", msg, Usage)
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, format+"\n", a...)
		return 1
	}
	if len(args) == 0 {
		return usage("no command given")
	}
	want := map[string][2]int{ // min, max arguments after the command
		"generate": {0, 3}, "validate": {1, 1}, "getpublic": {1, 1}, "sign": {2, 2},
		"verify": {3, 3}, "initmoon": {1, 1}, "genmoon": {1, 1}, "mkplanet": {1, 2},
	}
	cmd, rest := args[0], args[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(env.Stdout, Usage)
		return 0
	}
	n, ok := want[cmd]
	if !ok {
		return usage(fmt.Sprintf("unknown command %q", cmd))
	}
	if len(rest) < n[0] || len(rest) > n[1] {
		return usage(fmt.Sprintf("%s takes %d to %d arguments, got %d", cmd, n[0], n[1], len(rest)))
	}
	now := env.Now
	if now == nil {
		now = func() uint64 { return uint64(time.Now().UnixMilli()) }
	}
	out := func(name string) string {
		if filepath.IsAbs(name) || env.Dir == "" {
			return name
		}
		return filepath.Join(env.Dir, name)
	}
	loadID := func(arg string) (*identity.Identity, int) {
		id, err := IdentityFromArg(arg)
		if err != nil {
			return nil, fail("Identity argument invalid or file unreadable: %s (%v)", arg, err)
		}
		return id, 0
	}

	switch cmd {
	case "generate":
		var vanity uint64
		vanityBits := 0
		if len(rest) == 3 {
			v, err := strconv.ParseUint(rest[2], 16, 64)
			if err != nil || len(rest[2]) > 10 {
				return usage(fmt.Sprintf("vanity %q: want up to 10 hex digits", rest[2]))
			}
			vanity, vanityBits = v, 4*len(rest[2])
		}
		var id *identity.Identity
		for {
			var err error
			if id, err = identity.Generate(env.Rand); err != nil {
				return fail("generate: %v", err)
			}
			if uint64(id.Address)>>(40-vanityBits) == vanity {
				if vanityBits > 0 {
					fmt.Fprintf(env.Stderr, "vanity address: found %s !\n", id.Address)
				}
				break
			}
			fmt.Fprintf(env.Stderr, "vanity address: tried %s looking for first %d bits of %010x\n", id.Address, vanityBits, vanity<<(40-vanityBits))
		}
		sec, err := id.SecretString()
		if err != nil {
			return fail("generate: %v", err)
		}
		if len(rest) == 0 {
			fmt.Fprint(env.Stdout, sec)
			return 0
		}
		if err := WriteSecretFile(out(rest[0]), []byte(sec)); err != nil {
			return fail("Error writing to %s (%v)", rest[0], err)
		}
		fmt.Fprintf(env.Stdout, "%s written\n", rest[0])
		if len(rest) >= 2 {
			if err := os.WriteFile(out(rest[1]), []byte(id.String()), 0o644); err != nil {
				return fail("Error writing to %s (%v)", rest[1], err)
			}
			fmt.Fprintf(env.Stdout, "%s written\n", rest[1])
		}
	case "validate":
		id, rc := loadID(rest[0])
		if id == nil {
			return rc
		}
		if err := Validate(id); err != nil {
			return fail("%s FAILED validation. (%v)", rest[0], err)
		}
		fmt.Fprintf(env.Stdout, "%s is a valid identity\n", rest[0])
	case "getpublic":
		id, rc := loadID(rest[0])
		if id == nil {
			return rc
		}
		fmt.Fprint(env.Stdout, id.String())
	case "sign":
		id, rc := loadID(rest[0])
		if id == nil {
			return rc
		}
		if !id.HasPrivate() {
			return fail("%s does not contain a private key (must use private to sign)", rest[0])
		}
		msg, err := os.ReadFile(rest[1])
		if err != nil {
			return fail("%s is not readable (%v)", rest[1], err)
		}
		sig, err := Sign(id, msg)
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprint(env.Stdout, sig)
	case "verify":
		id, rc := loadID(rest[0])
		if id == nil {
			return rc
		}
		msg, err := os.ReadFile(rest[1])
		if err != nil {
			return fail("%s is not readable (%v)", rest[1], err)
		}
		// As the reference: the signature is hex on the command line or,
		// failing that, a file holding the hex.
		sig, err := DecodeSignature(rest[2])
		if err != nil {
			if b, ferr := readBounded(rest[2], 4096); ferr == nil {
				sig, err = DecodeSignature(string(b))
			}
		}
		if err != nil || id.Verify(msg, sig) != nil {
			return fail("%s signature check FAILED", rest[1])
		}
		fmt.Fprintf(env.Stdout, "%s signature valid\n", rest[1])
	case "initmoon":
		id, err := IdentityFromArg(rest[0])
		if err != nil {
			return fail("%s is not a valid identity (%v)", rest[0], err)
		}
		j, err := InitMoon(id, env.Rand)
		if err != nil {
			return fail("%v", err)
		}
		env.Stdout.Write(j)
	case "genmoon", "mkplanet":
		b, err := readBounded(rest[0], maxJSON)
		if err != nil {
			return fail("cannot read %s (%v)", rest[0], err)
		}
		j, err := ParseWorldJSON(b)
		if err != nil {
			return fail("%s: %v", rest[0], err)
		}
		if cmd == "mkplanet" && j.WorldType == "" {
			j.WorldType = "planet"
		}
		if cmd == "mkplanet" && j.WorldType != "planet" {
			return fail("%s: worldType %q is not \"planet\"", rest[0], j.WorldType)
		}
		w, err := MakeWorld(j, now())
		if err != nil {
			return fail("%s: %v", rest[0], err)
		}
		bin, err := w.MarshalBinary()
		if err != nil {
			return fail("%v", err)
		}
		name := MoonFileName(w)
		if cmd == "mkplanet" {
			name = "planet"
			if len(rest) == 2 {
				name = rest[1]
			}
		}
		if err := os.WriteFile(out(name), bin, 0o644); err != nil {
			return fail("cannot write %s (%v)", name, err)
		}
		fmt.Fprintf(env.Stdout, "wrote %s (signed world with timestamp %d)\n", name, w.Timestamp)
	}
	return 0
}

// MkPlanet is mkplanet as a function: the planet j describes, signed, in
// binary form (timestamp from j or now).
func MkPlanet(j *WorldJSON, now uint64) ([]byte, error) {
	if j.WorldType != "planet" {
		return nil, fmt.Errorf("mkplanet: worldType %q is not \"planet\"", j.WorldType)
	}
	w, err := MakeWorld(j, now)
	if err != nil {
		return nil, fmt.Errorf("mkplanet: %w", err)
	}
	return w.MarshalBinary()
}

// readBounded reads at most limit bytes of a regular file, so a device or
// huge file given by mistake is refused rather than read forever.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New("file too large")
	}
	return b, nil
}
