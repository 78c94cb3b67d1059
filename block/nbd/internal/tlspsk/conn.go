// Package tlspsk is a TLS 1.3 server for external pre-shared keys
// (RFC 8446 §2.2, §4.2.11) with (EC)DHE key exchange, the mode qemu and
// libnbd (GnuTLS) use for NBD TLS-PSK, which Go's crypto/tls lacks.
//
// It serves one cipher suite, TLS_AES_128_GCM_SHA256, with X25519 or
// P-256 key shares, and only psk_dhe_ke (forward secrecy): no
// certificates, no resumption, no 0-RTT, no HelloRetryRequest.
package tlspsk

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Config is the server's PSK store.
type Config struct {
	// Key returns the key of a PSK identity, and false for an unknown one.
	Key func(identity string) ([]byte, bool)
	// Rand is the randomness source; nil is crypto/rand.
	Rand io.Reader
}

// Conn is a server-side TLS-PSK connection. Reads and writes may run
// concurrently with each other; Handshake must finish first.
type Conn struct {
	raw net.Conn
	br  *bufio.Reader
	cfg *Config

	identity string

	rmu     sync.Mutex
	in      halfConn
	hsBuf   []byte // handshake bytes not yet consumed
	appData []byte // decrypted application data not yet read (in rbuf)
	rbuf    []byte // the last record read
	rerr    error

	wmu  sync.Mutex
	out  halfConn
	werr error
	sent int // records sent under the current write key
	// rekeyAfter is how many records one write key protects.
	rekeyAfter int
	wbuf       []byte // records on their way out

	closeOnce sync.Once
}

// Server wraps raw, whose reads may come through a buffer holding the
// start of the client's hello.
func Server(raw net.Conn, cfg *Config) *Conn {
	return &Conn{raw: raw, br: bufio.NewReaderSize(raw, 2*maxCiphertext), cfg: cfg, rekeyAfter: rekeyAfter}
}

// Identity is the PSK identity the client proved it holds.
func (c *Conn) Identity() string { return c.identity }

// Handshake runs the server handshake. On failure the client has been
// sent an alert; the error is a *HandshakeError and the caller closes.
func (c *Conn) Handshake(ctx context.Context) error {
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = c.raw.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err := c.serverHandshake()
	if err == nil {
		return nil
	}
	he := &HandshakeError{Reason: err.Error(), Alert: alertInternalError, Err: err}
	var (
		ae alertError
		ra remoteAlert
		re *reasonError
	)
	switch {
	case errors.As(err, &ra):
		he.Alert, he.Remote = uint8(ra), true
	case errors.As(err, &re):
		he.Alert, he.Reason = uint8(re.alert), re.reason
	case errors.As(err, &ae):
		he.Alert = uint8(ae)
	default:
		he.Alert = noAlert // an I/O failure
	}
	if he.Alert != noAlert && !he.Remote {
		c.sendAlertLocked(he.Alert)
	}
	if ctx.Err() != nil {
		he.Reason = ctx.Err().Error() + ": " + he.Reason
	}
	c.rerr, c.werr = he, he
	return he
}

// reasonError is an alert with a reason for the server's log.
type reasonError struct {
	alert  alertError
	reason string
}

func (e *reasonError) Error() string { return e.reason }

func fail(alert uint8, reason string) error {
	return &reasonError{alert: alertError(alert), reason: reason}
}

func (c *Conn) sendAlertLocked(desc uint8) {
	level := byte(2) // fatal
	if desc == alertCloseNotify {
		level = 1
	}
	rec := c.out.seal(nil, recordAlert, []byte{level, desc})
	_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.raw.Write(rec)
}

// Read reads application data.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for empty := 0; len(c.appData) == 0; empty++ {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if empty > 100 {
			c.readFail(alertError(alertUnexpectedMessage))
			continue
		}
		if err := c.readAppRecord(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0, err // no byte of the record was consumed: retry later
			}
			c.readFail(err)
		}
	}
	n := copy(p, c.appData)
	c.appData = c.appData[n:]
	return n, nil
}

// readFail makes err sticky, telling the peer when it is our alert.
func (c *Conn) readFail(err error) {
	c.rerr = err
	var ae alertError
	if errors.As(err, &ae) {
		c.wmu.Lock()
		if c.werr == nil {
			c.sendAlertLocked(uint8(ae))
			c.werr = err
		}
		c.wmu.Unlock()
	}
}

// readAppRecord reads one record after the handshake.
func (c *Conn) readAppRecord() error {
	hdr, body, err := c.peekRecord()
	if err != nil {
		return err
	}
	typ, data, err := c.in.open(hdr[:], body)
	if err != nil {
		return err
	}
	if typ != recordHandshake && len(c.hsBuf) > 0 {
		return alertError(alertUnexpectedMessage)
	}
	switch typ {
	case recordAppData:
		c.appData = data
		return nil
	case recordAlert:
		return alertFrom(data)
	case recordHandshake:
		c.hsBuf = append(c.hsBuf, data...)
		return c.postHandshake()
	}
	return alertError(alertUnexpectedMessage)
}

// peekRecord reads a whole record, consuming nothing until it is all in:
// a read deadline leaves the stream intact. The body is in c.rbuf.
func (c *Conn) peekRecord() (hdr [headerLen]byte, body []byte, err error) {
	h, err := c.br.Peek(headerLen)
	if err != nil {
		return hdr, nil, eofIn(err, len(h))
	}
	copy(hdr[:], h)
	n, err := checkHeader(hdr)
	if err != nil {
		return hdr, nil, err
	}
	rec, err := c.br.Peek(headerLen + n)
	if err != nil {
		return hdr, nil, eofIn(err, len(rec))
	}
	if c.rbuf == nil {
		c.rbuf = make([]byte, maxCiphertext)
	}
	body = c.rbuf[:n]
	copy(body, rec[headerLen:])
	_, _ = c.br.Discard(headerLen + n)
	return hdr, body, nil
}

// eofIn turns an EOF inside a record into io.ErrUnexpectedEOF.
func eofIn(err error, got int) error {
	if err == io.EOF && got > 0 {
		return io.ErrUnexpectedEOF
	}
	return err
}

// alertFrom reads a received alert: close_notify is the end of the data.
func alertFrom(data []byte) error {
	if len(data) != 2 {
		return alertError(alertDecodeError)
	}
	if data[1] == alertCloseNotify {
		return io.EOF
	}
	return remoteAlert(data[1])
}

// postHandshake handles KeyUpdate, the only handshake message a client
// sends after its Finished (RFC 8446 §4.6.3).
func (c *Conn) postHandshake() error {
	for len(c.hsBuf) >= 4 {
		n := int(c.hsBuf[1])<<16 | int(c.hsBuf[2])<<8 | int(c.hsBuf[3])
		if n > 4 {
			return alertError(alertUnexpectedMessage)
		}
		if len(c.hsBuf) < 4+n {
			return nil
		}
		typ, body := c.hsBuf[0], c.hsBuf[4:4+n]
		c.hsBuf = c.hsBuf[4+n:]
		if typ != typeKeyUpdate {
			return alertError(alertUnexpectedMessage)
		}
		if len(body) != 1 || body[0] > 1 {
			return alertError(alertDecodeError)
		}
		if len(c.hsBuf) != 0 { // a key change must end its record
			return alertError(alertUnexpectedMessage)
		}
		c.in.setSecret(nextSecret(c.in.secret))
		if body[0] == 1 {
			c.wmu.Lock()
			err := c.keyUpdateLocked()
			c.wmu.Unlock()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// keyUpdateLocked sends KeyUpdate(update_not_requested) and moves to the
// next write key.
func (c *Conn) keyUpdateLocked() error {
	if c.werr != nil {
		return c.werr
	}
	if _, err := c.raw.Write(c.appendKeyUpdate(nil)); err != nil {
		c.werr = err
		return err
	}
	return nil
}

// appendKeyUpdate appends KeyUpdate(update_not_requested) under the
// current write key and moves to the next one.
func (c *Conn) appendKeyUpdate(buf []byte) []byte {
	buf = c.out.seal(buf, recordHandshake, handshakeMsg(typeKeyUpdate, []byte{0}))
	c.out.setSecret(nextSecret(c.out.secret))
	c.sent = 0
	return buf
}

// Write sends application data in records of at most 16 KiB.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	const flushAt = 16 * maxPlaintext // bounds the buffer: about 256 KiB
	buf := c.wbuf[:0]
	n := 0
	for n < len(p) {
		if c.sent >= c.rekeyAfter {
			buf = c.appendKeyUpdate(buf)
		}
		m := min(len(p)-n, maxPlaintext)
		buf = c.out.seal(buf, recordAppData, p[n:n+m])
		c.sent++
		n += m
		if len(buf) >= flushAt || n == len(p) {
			if _, err := c.raw.Write(buf); err != nil {
				c.werr = err
				return n - m, err
			}
			buf = buf[:0]
		}
	}
	if cap(buf) <= 2*flushAt {
		c.wbuf = buf
	}
	return n, nil
}

// Close sends close_notify and closes the connection.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.wmu.Lock()
		if c.werr == nil && c.out.aead != nil {
			c.sendAlertLocked(alertCloseNotify)
		}
		c.werr = net.ErrClosed
		c.wmu.Unlock()
	})
	return c.raw.Close()
}

func (c *Conn) LocalAddr() net.Addr                { return c.raw.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr               { return c.raw.RemoteAddr() }
func (c *Conn) SetDeadline(t time.Time) error      { return c.raw.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.raw.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

func (c *Conn) random() io.Reader {
	if c.cfg.Rand != nil {
		return c.cfg.Rand
	}
	return rand.Reader
}
