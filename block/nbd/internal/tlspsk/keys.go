package tlspsk

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// ParseKeys reads a PSK file in the format of GnuTLS's psktool, which
// qemu (tls-creds-psk dir=DIR reads DIR/keys.psk) and libnbd
// (tls-psk-file=) use: one "identity:hexkey" per line. Blank lines and
// lines starting with # are skipped.
func ParseKeys(r io.Reader) (map[string][]byte, error) {
	keys := map[string][]byte{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		i := strings.IndexByte(s, ':')
		if i <= 0 {
			return nil, fmt.Errorf("line %d: want identity:hexkey", line)
		}
		id := s[:i]
		key, err := hex.DecodeString(strings.TrimSpace(s[i+1:]))
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("line %d: key of %q is not hex", line, id)
		}
		if len(key) < 16 {
			return nil, fmt.Errorf("line %d: key of %q has %d bytes, want at least 16", line, id, len(key))
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("line %d: identity %q repeated", line, id)
		}
		keys[id] = key
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no keys")
	}
	return keys, nil
}

// LoadKeys reads a PSK file (see ParseKeys).
func LoadKeys(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	keys, err := ParseKeys(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}
