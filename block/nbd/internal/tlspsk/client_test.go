package tlspsk

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// A minimal TLS 1.3 PSK client, to drive the server through cases real
// clients never send.

type psk struct {
	id  string
	key []byte
}

type clientOpts struct {
	psks          []psk
	modes         []byte // psk_key_exchange_modes; nil: psk_dhe_ke
	versions      []byte // supported_versions list; nil: TLS 1.3
	suites        []byte
	pskNotLast    bool // put an extension after pre_shared_key
	badFinished   bool
	noKeyShare    bool
	noCompression bool
}

func (o *clientOpts) hello(pub []byte) []byte {
	ext := func(b []byte, typ int, data []byte) []byte { return appendVec16(appendU16(b, typ), data) }
	var e []byte
	versions := o.versions
	if versions == nil {
		versions = []byte{3, 4}
	}
	e = ext(e, extSupportedVersions, appendVec8(nil, versions))
	e = ext(e, 10, appendVec16(nil, []byte{0, 0x1d}))
	if !o.noKeyShare {
		e = ext(e, extKeyShare, appendVec16(nil, appendVec16(appendU16(nil, groupX25519), pub)))
	}
	modes := o.modes
	if modes == nil {
		modes = []byte{pskModeDHE}
	}
	e = ext(e, extPSKModes, appendVec8(nil, modes))
	var ids, binders []byte
	for _, p := range o.psks {
		ids = appendVec16(ids, []byte(p.id))
		ids = append(ids, 0, 0, 0, 0)
		binders = appendVec8(binders, make([]byte, hashLen))
	}
	pskExt := appendVec16(appendVec16(nil, ids), binders)
	trailer := []byte(nil)
	if o.pskNotLast {
		trailer = ext(nil, 0xff01, []byte{0})
	}
	e = ext(e, extPreSharedKey, pskExt)
	e = append(e, trailer...)

	b := []byte{3, 3}
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	b = append(b, random...)
	b = appendVec8(b, random) // a 32-byte legacy session id
	suites := o.suites
	if suites == nil {
		suites = []byte{0x13, 0x02, 0x13, 0x01}
	}
	b = appendVec16(b, suites)
	if o.noCompression {
		b = appendVec8(b, []byte{1})
	} else {
		b = appendVec8(b, []byte{0})
	}
	b = appendVec16(b, e)
	msg := handshakeMsg(typeClientHello, b)

	// Binders over the hello truncated before the binders list.
	bindersLen := 2 + len(binders)
	if o.pskNotLast {
		bindersLen += len(trailer)
	}
	th := sha256.Sum256(msg[:len(msg)-bindersLen])
	off := len(msg) - len(trailer) - len(binders)
	for _, p := range o.psks {
		mac := finishedMAC(newSchedule(p.key).binderKey(), th[:])
		copy(msg[off+1:], mac)
		off += 1 + hashLen
	}
	return msg
}

// testClient is a connected client after its handshake.
type testClient struct {
	conn    net.Conn
	br      *bufio.Reader
	in, out halfConn
}

// dialPSK runs the client handshake; the error is the server's alert
// (remoteAlert) or a local failure.
func dialPSK(t *testing.T, port int, o clientOpts) (*testClient, error) {
	t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &testClient{conn: conn, br: bufio.NewReader(conn)}
	priv, _ := ecdh.X25519().GenerateKey(rand.Reader)
	ch := o.hello(priv.PublicKey().Bytes())
	if _, err := conn.Write(c.out.seal(nil, recordHandshake, ch)); err != nil {
		return nil, err
	}
	transcript := sha256.New()
	transcript.Write(ch)
	var hs []byte
	next := func() ([]byte, error) {
		for {
			if len(hs) >= 4 {
				n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
				if len(hs) >= 4+n {
					m := hs[:4+n]
					hs = hs[4+n:]
					return m, nil
				}
			}
			hdr, body, err := readRecord(c.br)
			if err != nil {
				return nil, err
			}
			if hdr[0] == recordCCS {
				continue
			}
			typ, data, err := c.in.open(hdr[:], body)
			if err != nil {
				return nil, err
			}
			if typ == recordAlert {
				return nil, alertFrom(data)
			}
			hs = append(hs, data...)
		}
	}
	sh, err := next()
	if err != nil {
		return nil, err
	}
	// ServerHello: the selected identity and the server's share.
	r := newReader(sh[4:])
	r.take(2 + 32)
	r.vec8()
	if suite := r.u16(); suite != suiteAES128GCMSHA256 {
		t.Fatalf("suite %#x", suite)
	}
	r.u8()
	exts := newReader(r.vec16())
	sel, serverPub := -1, []byte(nil)
	for exts.ok && len(exts.b) > 0 {
		typ, data := exts.u16(), newReader(exts.vec16())
		switch typ {
		case extPreSharedKey:
			sel = data.u16()
		case extKeyShare:
			data.u16()
			serverPub = data.vec16()
		}
	}
	if sel < 0 || serverPub == nil {
		t.Fatalf("ServerHello without pre_shared_key or key_share: %x", sh)
	}
	peer, err := ecdh.X25519().NewPublicKey(serverPub)
	if err != nil {
		t.Fatal(err)
	}
	shared, _ := priv.ECDH(peer)
	s := newSchedule(o.psks[sel].key)
	s.withShared(shared)
	transcript.Write(sh)
	th := transcript.Sum(nil)
	cHS, sHS := deriveSecret(s.handshake, "c hs traffic", th), deriveSecret(s.handshake, "s hs traffic", th)
	c.in.setSecret(sHS)
	c.out.setSecret(cHS)
	ee, err := next()
	if err != nil || ee[0] != typeEncryptedExtensions {
		t.Fatalf("EncryptedExtensions: %x %v", ee, err)
	}
	transcript.Write(ee)
	fin, err := next()
	if err != nil || fin[0] != typeFinished {
		t.Fatalf("server Finished: %x %v", fin, err)
	}
	if !bytes.Equal(fin[4:], finishedMAC(sHS, transcript.Sum(nil))) {
		t.Fatalf("server Finished does not verify")
	}
	transcript.Write(fin)
	th = transcript.Sum(nil)
	mine := finishedMAC(cHS, th)
	if o.badFinished {
		mine[0] ^= 1
	}
	rec := append([]byte{recordCCS, 3, 3, 0, 1, 1}, c.out.seal(nil, recordHandshake, handshakeMsg(typeFinished, mine))...)
	if _, err := conn.Write(rec); err != nil {
		return nil, err
	}
	c.in.setSecret(deriveSecret(s.master, "s ap traffic", th))
	c.out.setSecret(deriveSecret(s.master, "c ap traffic", th))
	return c, nil
}

func (c *testClient) send(t *testing.T, typ byte, data []byte) {
	t.Helper()
	var b []byte
	for len(data) > 0 || b == nil {
		n := min(len(data), maxPlaintext)
		b = c.out.seal(b, typ, data[:n])
		data = data[n:]
	}
	if _, err := c.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// recv reads application data until n bytes came, following KeyUpdates.
func (c *testClient) recv(n int) ([]byte, error) {
	var got []byte
	for len(got) < n {
		hdr, body, err := readRecord(c.br)
		if err != nil {
			return got, err
		}
		typ, data, err := c.in.open(hdr[:], body)
		if err != nil {
			return got, err
		}
		switch typ {
		case recordAppData:
			got = append(got, data...)
		case recordAlert:
			return got, alertFrom(data)
		case recordHandshake:
			if len(data) == 5 && data[0] == typeKeyUpdate {
				c.in.setSecret(nextSecret(c.in.secret))
			}
		}
	}
	return got, nil
}

func TestHandshakeCases(t *testing.T) {
	good := psk{"alice", testKey}
	for name, c := range map[string]struct {
		o     clientOpts
		alert uint8 // 0: the handshake succeeds
	}{
		"ok":                      {o: clientOpts{psks: []psk{good}}},
		"second identity":         {o: clientOpts{psks: []psk{{"nobody", testKey}, good}}},
		"wrong key":               {o: clientOpts{psks: []psk{{"alice", bytes.Repeat([]byte{7}, 32)}}}, alert: alertDecryptError},
		"unknown identity":        {o: clientOpts{psks: []psk{{"bob", testKey}}}, alert: alertDecryptError},
		"psk_ke only":             {o: clientOpts{psks: []psk{good}, modes: []byte{0}}, alert: alertHandshakeFailure},
		"TLS 1.2 only":            {o: clientOpts{psks: []psk{good}, versions: []byte{3, 3}}, alert: alertProtocolVersion},
		"no AES-128-GCM":          {o: clientOpts{psks: []psk{good}, suites: []byte{0x13, 0x02}}, alert: alertHandshakeFailure},
		"pre_shared_key not last": {o: clientOpts{psks: []psk{good}, pskNotLast: true}, alert: alertIllegalParameter},
		"no key share":            {o: clientOpts{psks: []psk{good}, noKeyShare: true}, alert: alertHandshakeFailure},
		"compression":             {o: clientOpts{psks: []psk{good}, noCompression: true}, alert: alertIllegalParameter},
		"bad client Finished":     {o: clientOpts{psks: []psk{good}, badFinished: true}, alert: alertDecryptError},
	} {
		t.Run(name, func(t *testing.T) {
			port, done := echoServer(t, map[string][]byte{"alice": testKey})
			cl, err := dialPSK(t, port, c.o)
			if err == nil && c.o.badFinished {
				_, err = cl.recv(1)
			}
			if c.alert != 0 {
				var ra remoteAlert
				if !errors.As(err, &ra) || uint8(ra) != c.alert {
					t.Fatalf("client got %v, want alert %s", err, alertName(c.alert))
				}
				var he *HandshakeError
				if serr := <-done; !errors.As(serr, &he) || he.Alert != c.alert {
					t.Fatalf("server: %v", serr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Data both ways, records of every size up to the largest, a
			// KeyUpdate asking for the server's, then close_notify.
			msg := bytes.Repeat([]byte("abcdefgh"), 5000)
			cl.send(t, recordAppData, msg)
			if got, err := cl.recv(len(msg)); err != nil || !bytes.Equal(got, bytes.ToUpper(msg)) {
				t.Fatalf("echo: %d bytes, %v", len(got), err)
			}
			cl.send(t, recordHandshake, handshakeMsg(typeKeyUpdate, []byte{1}))
			cl.out.setSecret(nextSecret(cl.out.secret))
			cl.send(t, recordAppData, []byte("after update"))
			if got, err := cl.recv(12); err != nil || string(got) != "AFTER UPDATE" {
				t.Fatalf("after KeyUpdate: %q %v", got, err)
			}
			cl.send(t, recordAlert, []byte{1, alertCloseNotify})
			if err := <-done; err != nil {
				t.Fatalf("server: %v", err)
			}
			if _, err := cl.recv(1); err != io.EOF {
				t.Fatalf("after close: %v, want close_notify", err)
			}
		})
	}
}

// TestRecordErrors: garbage after the handshake ends the connection with
// the right alert.
func TestRecordErrors(t *testing.T) {
	for name, c := range map[string]struct {
		raw   func(cl *testClient) []byte
		alert uint8
	}{
		"tampered":  {func(cl *testClient) []byte { r := cl.out.seal(nil, recordAppData, []byte("x")); r[6] ^= 1; return r }, alertBadRecordMAC},
		"plaintext": {func(*testClient) []byte { return []byte{recordAppData, 3, 3, 0, 1, 'x'} }, alertBadRecordMAC},
		"oversized": {func(*testClient) []byte { return append([]byte{recordAppData, 3, 3, 0x42, 0}, make([]byte, 0x4200)...) }, alertRecordOverflow},
		"handshake": {func(cl *testClient) []byte {
			return cl.out.seal(nil, recordHandshake, handshakeMsg(typeFinished, make([]byte, 32)))
		}, alertUnexpectedMessage},
		"bad KeyUpdate": {func(cl *testClient) []byte {
			return cl.out.seal(nil, recordHandshake, handshakeMsg(typeKeyUpdate, []byte{2}))
		}, alertDecodeError},
	} {
		t.Run(name, func(t *testing.T) {
			port, done := echoServer(t, map[string][]byte{"alice": testKey})
			cl, err := dialPSK(t, port, clientOpts{psks: []psk{{"alice", testKey}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.conn.Write(c.raw(cl)); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.recv(1); !errors.Is(err, remoteAlert(c.alert)) {
				t.Fatalf("client got %v, want %s", err, alertName(c.alert))
			}
			if err := <-done; !errors.Is(err, alertError(c.alert)) {
				t.Fatalf("server: %v", err)
			}
		})
	}
}

// TestServerKeyUpdate: with a key per record, the echo still decrypts.
func TestServerKeyUpdate(t *testing.T) {
	port, done := echoServer(t, map[string][]byte{"alice": testKey}, func(c *Conn) { c.rekeyAfter = 1 })
	cl, err := dialPSK(t, port, clientOpts{psks: []psk{{"alice", testKey}}})
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("k"), 10*maxPlaintext+7)
	cl.send(t, recordAppData, msg)
	got, err := cl.recv(len(msg))
	if err != nil || !bytes.Equal(got, bytes.ToUpper(msg)) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	if cl.in.seq > 1 {
		t.Errorf("the server protected %d records with one key", cl.in.seq)
	}
	cl.send(t, recordAlert, []byte{1, alertCloseNotify})
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
}

// TestReadDeadline: a read that times out inside a record consumes
// nothing; the next read gets the whole record.
func TestReadDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	result := make(chan string, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			result <- err.Error()
			return
		}
		c := Server(raw, &Config{Key: func(string) ([]byte, bool) { return testKey, true }})
		defer c.Close()
		if err := c.Handshake(context.Background()); err != nil {
			result <- err.Error()
			return
		}
		buf := make([]byte, 100)
		_ = c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		var ne net.Error
		if _, err := c.Read(buf); !errors.As(err, &ne) || !ne.Timeout() {
			result <- "first read: " + fmt.Sprint(err)
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			result <- "second read: " + err.Error()
			return
		}
		result <- string(buf[:n])
	}()
	cl, err := dialPSK(t, ln.Addr().(*net.TCPAddr).Port, clientOpts{psks: []psk{{"alice", testKey}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := cl.out.seal(nil, recordAppData, []byte("whole"))
	if _, err := cl.conn.Write(rec[:9]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := cl.conn.Write(rec[9:]); err != nil {
		t.Fatal(err)
	}
	if got := <-result; got != "whole" {
		t.Fatalf("server read %q", got)
	}
}
