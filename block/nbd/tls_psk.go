package nbd

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net"

	"github.com/wolke-cloud/wolke/block/nbd/internal/tlspsk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// LoadPSKFile reads TLS-PSK keys in the keys.psk format of GnuTLS's
// psktool, which qemu (tls-creds-psk,dir=DIR reads DIR/keys.psk) and
// libnbd (nbds://...?tls-psk-file=FILE) read too: "identity:hexkey" lines.
func LoadPSKFile(path string) (map[string][]byte, error) {
	keys, err := tlspsk.LoadKeys(path)
	if err != nil {
		return nil, errs.E("nbd.LoadPSKFile", errs.Invalid, err)
	}
	return keys, nil
}

// tlsHandshake runs the server side of TLS on bc after STARTTLS: with
// PSKs, certificates, or (both configured) what the ClientHello offers.
func (c *conn) tlsHandshake(ctx context.Context, bc *bufferedConn) (net.Conn, error) {
	cfg := &c.s.cfg
	usePSK := len(cfg.PSK) > 0
	if usePSK && cfg.TLS != nil {
		usePSK = tlspsk.OffersPSK(c.peekRecord(), func(id string) bool { _, ok := cfg.PSK[id]; return ok })
	}
	if !usePSK {
		tc := tls.Server(bc, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		return tc, nil
	}
	pc := tlspsk.Server(bc, &tlspsk.Config{Key: func(id string) ([]byte, bool) { k, ok := cfg.PSK[id]; return k, ok }})
	if err := pc.Handshake(ctx); err != nil {
		return nil, err
	}
	c.log = c.log.With("psk_identity", pc.Identity())
	return pc, nil
}

// peekRecord returns the client's first TLS record without consuming it;
// nil when it cannot be read whole.
func (c *conn) peekRecord() []byte {
	h, err := c.br.Peek(5)
	if err != nil {
		return nil
	}
	rec, err := c.br.Peek(5 + int(binary.BigEndian.Uint16(h[3:])))
	if err != nil {
		return nil
	}
	return rec
}
