package tlspsk

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/sha256"
	"io"
)

const maxHandshakeMsg = 1 << 17

// serverHandshake runs RFC 8446's server side for an external PSK with
// (EC)DHE: ClientHello in; ServerHello, (change_cipher_spec),
// EncryptedExtensions, Finished out; the client's Finished in.
func (c *Conn) serverHandshake() error {
	msg, err := c.readHandshakeMsg(false)
	if err != nil {
		return err
	}
	if msg[0] != typeClientHello {
		return fail(alertUnexpectedMessage, "first message is not a ClientHello")
	}
	if len(c.hsBuf) != 0 {
		return fail(alertUnexpectedMessage, "data after the ClientHello")
	}
	ch, err := parseClientHello(msg)
	if err != nil {
		return fail(uint8(err.(alertError)), "malformed ClientHello")
	}
	switch {
	case !ch.tls13:
		return fail(alertProtocolVersion, "client does not offer TLS 1.3")
	case !ch.aes128:
		return fail(alertHandshakeFailure, "client does not offer TLS_AES_128_GCM_SHA256")
	case len(ch.identities) == 0:
		return fail(alertHandshakeFailure, "client offers no pre-shared key")
	case !ch.hasModes:
		return fail(alertMissingExtension, "pre_shared_key without psk_key_exchange_modes")
	case !ch.dheMode:
		return fail(alertHandshakeFailure, "client does not offer psk_dhe_ke")
	}

	// The first identity we know; its binder proves the client holds it.
	idx, psk := -1, []byte(nil)
	for i, id := range ch.identities {
		if k, ok := c.cfg.Key(id); ok {
			idx, psk = i, k
			break
		}
	}
	if idx < 0 {
		// decrypt_error rather than unknown_psk_identity: a wrong key and
		// an unknown name look the same to the client (RFC 8446 §6.2).
		return fail(alertDecryptError, "unknown PSK identity "+quote(ch.identities[0]))
	}
	sched := newSchedule(psk)
	truncated := sha256.Sum256(ch.raw[:len(ch.raw)-ch.bindersLen])
	if !hmac.Equal(finishedMAC(sched.binderKey(), truncated[:]), ch.binders[idx]) {
		return fail(alertDecryptError, "bad PSK binder for identity "+quote(ch.identities[idx])+" (wrong key)")
	}

	group, pub, shared, err := c.keyAgreement(ch)
	if err != nil {
		return err
	}
	sched.withShared(shared)

	transcript := sha256.New()
	transcript.Write(ch.raw)
	sh := c.serverHello(ch.sessionID, group, pub, idx)
	if sh == nil {
		return fail(alertInternalError, "no randomness")
	}
	transcript.Write(sh)
	flight := c.out.seal(nil, recordHandshake, sh)
	if len(ch.sessionID) > 0 { // middlebox compatibility mode (RFC 8446 §D.4)
		flight = append(flight, recordCCS, 3, 3, 0, 1, 1)
	}
	th := transcript.Sum(nil)
	cHS := deriveSecret(sched.handshake, "c hs traffic", th)
	sHS := deriveSecret(sched.handshake, "s hs traffic", th)
	c.out.setSecret(sHS)
	c.in.setSecret(cHS)

	ee := handshakeMsg(typeEncryptedExtensions, []byte{0, 0})
	transcript.Write(ee)
	fin := handshakeMsg(typeFinished, finishedMAC(sHS, transcript.Sum(nil)))
	transcript.Write(fin)
	flight = c.out.seal(flight, recordHandshake, append(ee, fin...))
	if _, err := c.raw.Write(flight); err != nil {
		return err
	}
	th = transcript.Sum(nil)
	cAP := deriveSecret(sched.master, "c ap traffic", th)
	c.out.setSecret(deriveSecret(sched.master, "s ap traffic", th))

	msg, err = c.readHandshakeMsg(true)
	if err != nil {
		return err
	}
	if msg[0] != typeFinished {
		return fail(alertUnexpectedMessage, "expected the client's Finished")
	}
	if !hmac.Equal(msg[4:], finishedMAC(cHS, th)) {
		return fail(alertDecryptError, "bad client Finished")
	}
	if len(c.hsBuf) != 0 {
		return fail(alertUnexpectedMessage, "data after the client's Finished")
	}
	c.in.setSecret(cAP)
	c.identity = ch.identities[idx]
	return nil
}

// keyAgreement answers the client's X25519 (preferred) or P-256 share.
func (c *Conn) keyAgreement(ch *clientHello) (group int, pub, shared []byte, err error) {
	for _, g := range []struct {
		id    int
		curve ecdh.Curve
	}{{groupX25519, ecdh.X25519()}, {groupP256, ecdh.P256()}} {
		share, ok := ch.keyShares[g.id]
		if !ok {
			continue
		}
		peer, err := g.curve.NewPublicKey(share)
		if err != nil {
			return 0, nil, nil, fail(alertIllegalParameter, "bad key share")
		}
		priv, err := g.curve.GenerateKey(c.random())
		if err != nil {
			return 0, nil, nil, fail(alertInternalError, "key generation: "+err.Error())
		}
		shared, err := priv.ECDH(peer)
		if err != nil {
			return 0, nil, nil, fail(alertIllegalParameter, "bad key share")
		}
		return g.id, priv.PublicKey().Bytes(), shared, nil
	}
	return 0, nil, nil, fail(alertHandshakeFailure, "no X25519 or P-256 key share")
}

// serverHello builds the ServerHello message; nil when there is no
// randomness.
func (c *Conn) serverHello(sessionID []byte, group int, pub []byte, idx int) []byte {
	b := []byte{3, 3}
	var random [32]byte
	if _, err := io.ReadFull(c.random(), random[:]); err != nil {
		return nil
	}
	b = append(b, random[:]...)
	b = appendVec8(b, sessionID)
	b = appendU16(b, suiteAES128GCMSHA256)
	b = append(b, 0)
	var ext []byte
	ext = appendU16(ext, extSupportedVersions)
	ext = appendVec16(ext, []byte{3, 4})
	ext = appendU16(ext, extKeyShare)
	ext = appendVec16(ext, appendVec16(appendU16(nil, group), pub))
	ext = appendU16(ext, extPreSharedKey)
	ext = appendVec16(ext, appendU16(nil, idx))
	b = appendVec16(b, ext)
	return handshakeMsg(typeServerHello, b)
}

// readHandshakeMsg returns the next handshake message with its header.
// Unprotected change_cipher_spec records are dropped once the
// ClientHello is in (RFC 8446 §5).
func (c *Conn) readHandshakeMsg(afterHello bool) ([]byte, error) {
	for {
		if len(c.hsBuf) >= 4 {
			n := int(c.hsBuf[1])<<16 | int(c.hsBuf[2])<<8 | int(c.hsBuf[3])
			if n > maxHandshakeMsg {
				return nil, fail(alertUnexpectedMessage, "handshake message too long")
			}
			if len(c.hsBuf) >= 4+n {
				msg := c.hsBuf[:4+n]
				c.hsBuf = c.hsBuf[4+n:]
				return msg, nil
			}
		}
		hdr, body, err := readRecord(c.br)
		if err != nil {
			return nil, err
		}
		if hdr[0] == recordCCS {
			if !afterHello || len(body) != 1 || body[0] != 1 {
				return nil, fail(alertUnexpectedMessage, "unexpected change_cipher_spec")
			}
			continue
		}
		if !afterHello && hdr[0] != recordHandshake {
			if hdr[0] == recordAlert {
				return nil, alertFrom(body)
			}
			return nil, fail(alertUnexpectedMessage, "no ClientHello")
		}
		typ, data, err := c.in.open(hdr[:], body)
		if err != nil {
			return nil, err
		}
		switch {
		case typ == recordAlert:
			if err := alertFrom(data); err != io.EOF {
				return nil, err
			}
			return nil, io.ErrUnexpectedEOF
		case typ != recordHandshake || len(data) == 0:
			return nil, fail(alertUnexpectedMessage, "expected a handshake record")
		}
		c.hsBuf = append(c.hsBuf, data...)
	}
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b := []byte{'"'}
	for _, r := range []byte(s) {
		if r < 0x20 || r >= 0x7f || r == '"' {
			b = append(b, '?')
		} else {
			b = append(b, r)
		}
	}
	return string(append(b, '"'))
}
