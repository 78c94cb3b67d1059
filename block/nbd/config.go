package nbd

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Config tunes the server. The zero value (after SetDefaults) serves plain
// NBD with 32 MiB requests and 16 concurrent requests per connection.
type Config struct {
	// MaxPayload is the largest READ, WRITE, CACHE or WRITE_ZEROES length
	// (the advertised maximum block size). A multiple of 512.
	MaxPayload uint32
	// Workers bounds the requests one connection runs at once.
	Workers int
	// MaxBufferBytes bounds the READ and WRITE data one connection holds
	// in memory at once; at least MaxPayload.
	MaxBufferBytes int64
	// TLS enables NBD_OPT_STARTTLS with certificates.
	TLS *tls.Config
	// PSK enables NBD_OPT_STARTTLS with TLS 1.3 pre-shared keys (psk_dhe_ke,
	// TLS_AES_128_GCM_SHA256), as qemu's tls-creds-psk and libnbd's
	// tls-psk-file use them: identity to key; LoadPSKFile reads the
	// keys.psk format. With both TLS and PSK, a client whose ClientHello
	// offers a known PSK identity gets PSK, any other certificates.
	PSK map[string][]byte
	// TLSRequired refuses every option but STARTTLS and ABORT before TLS.
	TLSRequired bool
	// ReadOnly serves every export read-only.
	ReadOnly bool
	// HandshakeTimeout bounds the whole option haggling phase.
	HandshakeTimeout time.Duration
	// ShutdownGrace is how long a connection keeps answering ESHUTDOWN and
	// waiting for the client's NBD_CMD_DISC once the server stops.
	ShutdownGrace time.Duration
	// DrainTimeout bounds how long a stopping server waits for requests
	// in flight; then their connection is closed and their calls canceled.
	DrainTimeout time.Duration
}

// SetDefaults fills the zero fields.
func (c *Config) SetDefaults() {
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.Workers == 0 {
		c.Workers = 16
	}
	if c.MaxBufferBytes == 0 {
		c.MaxBufferBytes = max(64<<20, int64(c.MaxPayload))
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 30 * time.Second
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 2 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
}

// Validate reports a configuration the server cannot run with.
func (c *Config) Validate() error {
	const op = "nbd.Config.Validate"
	switch {
	case c.MaxPayload < 64<<10 || c.MaxPayload%DefaultMinBlock != 0:
		return errs.Errorf(op, errs.Invalid, "MaxPayload %d: want a multiple of 512, at least 64 KiB", c.MaxPayload)
	case c.MaxBufferBytes < int64(c.MaxPayload):
		return errs.Errorf(op, errs.Invalid, "MaxBufferBytes %d is below MaxPayload", c.MaxBufferBytes)
	case c.Workers < 1:
		return errs.Errorf(op, errs.Invalid, "Workers %d: want at least 1", c.Workers)
	case c.TLSRequired && c.TLS == nil && len(c.PSK) == 0:
		return errs.E(op, errs.Invalid, "TLSRequired needs TLS or PSK")
	case c.PSK != nil && len(c.PSK) == 0:
		return errs.E(op, errs.Invalid, "PSK holds no keys")
	case c.HandshakeTimeout < 0 || c.ShutdownGrace < 0 || c.DrainTimeout < 0:
		return errs.E(op, errs.Invalid, "negative timeout")
	}
	return nil
}

// Deps are the server's collaborators.
type Deps struct {
	Exports  Exports
	Logger   *slog.Logger          // nil: discard
	Registry prometheus.Registerer // nil: metrics are kept but not registered
}
