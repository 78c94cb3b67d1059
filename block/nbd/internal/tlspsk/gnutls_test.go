package tlspsk

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testKey = bytes.Repeat([]byte{0x5a, 0xa5}, 16)

// echoServer accepts one connection, runs the handshake and echoes lines
// back upper-cased. It reports the handshake error, if any.
func echoServer(t *testing.T, keys map[string][]byte, tune ...func(*Conn)) (port int, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan error, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			ch <- err
			return
		}
		c := Server(raw, &Config{Key: func(id string) ([]byte, bool) { k, ok := keys[id]; return k, ok }})
		for _, f := range tune {
			f(c)
		}
		defer c.Close()
		_ = raw.SetDeadline(time.Now().Add(20 * time.Second))
		if err := c.Handshake(context.Background()); err != nil {
			ch <- err
			return
		}
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := c.Write(bytes.ToUpper(buf[:n])); werr != nil {
					ch <- werr
					return
				}
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				ch <- err
				return
			}
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, ch
}

func gnutlsCLI(t *testing.T, port int, user string, key []byte, stdin string, extra ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("gnutls-cli")
	if err != nil {
		t.Skip("gnutls-cli not installed (apt-get install gnutls-bin)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"-p", strconv.Itoa(port), "--pskusername", user, "--pskkey", hex.EncodeToString(key),
		"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK:+PSK"}, extra...)
	cmd := exec.CommandContext(ctx, path, append(args, "127.0.0.1")...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestGnuTLSClient(t *testing.T) {
	port, done := echoServer(t, map[string][]byte{"alice": testKey})
	big := strings.Repeat("x", 40000)
	out, err := gnutlsCLI(t, port, "alice", testKey, "hello\n"+big+"\n")
	if err != nil {
		t.Fatalf("gnutls-cli: %v\n%s", err, out)
	}
	if !strings.Contains(out, "HELLO") || !strings.Contains(out, strings.ToUpper(big)) {
		t.Fatalf("no echo:\n%.2000s", out)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func TestGnuTLSKeyUpdate(t *testing.T) {
	// The server also updates its own key every 4 records (GnuTLS refuses
	// more than a few KeyUpdates a second).
	port, done := echoServer(t, map[string][]byte{"alice": testKey}, func(c *Conn) { c.rekeyAfter = 4 })
	// ^rekey^ asks for a two-way KeyUpdate, ^rekey1^ a one-way one.
	out, err := gnutlsCLI(t, port, "alice", testKey, "one\n^rekey^\ntwo\n^rekey1^\nthree\n"+strings.Repeat("y", 70000)+"\nfour\n", "--inline-commands")
	if err != nil {
		t.Fatalf("gnutls-cli: %v\n%s", err, out)
	}
	for _, w := range []string{"ONE", "TWO", "THREE", strings.Repeat("Y", 70000), "FOUR"} {
		if !strings.Contains(out, w) {
			t.Fatalf("no %s after key updates:\n%s", w, out)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func TestGnuTLSRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		user string
		key  []byte
	}{
		"wrong key":        {"alice", bytes.Repeat([]byte{1}, 32)},
		"unknown identity": {"mallory", testKey},
	} {
		t.Run(name, func(t *testing.T) {
			port, done := echoServer(t, map[string][]byte{"alice": testKey})
			out, err := gnutlsCLI(t, port, tc.user, tc.key, "secret\n")
			if err == nil || strings.Contains(out, "SECRET") {
				t.Fatalf("client was served:\n%s", out)
			}
			serr := <-done
			var he *HandshakeError
			if !errors.As(serr, &he) || he.Alert != alertDecryptError || he.Remote {
				t.Fatalf("server error %v, want a decrypt_error we sent", serr)
			}
			if !strings.Contains(out, "Decryption has failed") && !strings.Contains(out, "decrypt") {
				t.Logf("client output:\n%s", out)
			}
		})
	}
}
