package tlspsk

// Handshake message types and extension numbers (RFC 8446 §4).
const (
	typeClientHello         = 1
	typeServerHello         = 2
	typeEncryptedExtensions = 8
	typeFinished            = 20
	typeKeyUpdate           = 24

	extSupportedVersions = 43
	extKeyShare          = 51
	extPSKModes          = 45
	extPreSharedKey      = 41

	suiteAES128GCMSHA256 = 0x1301
	groupX25519          = 0x001d
	groupP256            = 0x0017
	versionTLS13         = 0x0304
	pskModeDHE           = 1
)

// clientHello is what the server uses of a ClientHello.
type clientHello struct {
	raw        []byte // the whole handshake message
	sessionID  []byte
	aes128     bool // offers TLS_AES_128_GCM_SHA256
	tls13      bool // supported_versions lists TLS 1.3
	keyShares  map[int][]byte
	hasModes   bool
	dheMode    bool
	identities []string
	binders    [][]byte
	bindersLen int // the binders vector with its length, at the very end
}

// parseClientHello decodes a ClientHello message (with its 4-byte
// header). A malformed message is a decode_error; an extension in the
// wrong place an illegal_parameter.
func parseClientHello(msg []byte) (*clientHello, error) {
	ch := &clientHello{raw: msg, keyShares: map[int][]byte{}}
	r := newReader(msg[4:])
	r.u16() // legacy_version
	r.take(32)
	ch.sessionID = r.vec8()
	suites := newReader(r.vec16())
	comp := r.vec8()
	exts := newReader(r.vec16())
	if !r.done() || len(ch.sessionID) > 32 {
		return nil, alertError(alertDecodeError)
	}
	if len(comp) != 1 || comp[0] != 0 {
		return nil, alertError(alertIllegalParameter)
	}
	for suites.ok && len(suites.b) > 0 {
		if suites.u16() == suiteAES128GCMSHA256 {
			ch.aes128 = true
		}
	}
	seen := map[int]bool{}
	for exts.ok && len(exts.b) > 0 {
		typ, data := exts.u16(), exts.vec16()
		if !exts.ok {
			break
		}
		if seen[typ] || seen[extPreSharedKey] {
			// Repeated, or after pre_shared_key, which must come last.
			return nil, alertError(alertIllegalParameter)
		}
		seen[typ] = true
		var ok bool
		switch typ {
		case extSupportedVersions:
			ok = ch.parseVersions(data)
		case extKeyShare:
			ok = ch.parseKeyShares(data)
		case extPSKModes:
			ch.hasModes = true
			modes := newReader(data).vec8()
			ok = len(modes) > 0 && len(modes)+1 == len(data)
			for _, m := range modes {
				ch.dheMode = ch.dheMode || m == pskModeDHE
			}
		case extPreSharedKey:
			ok = ch.parsePSK(data)
		default:
			ok = true
		}
		if !ok {
			return nil, alertError(alertDecodeError)
		}
	}
	if !exts.done() {
		return nil, alertError(alertDecodeError)
	}
	return ch, nil
}

func (ch *clientHello) parseVersions(data []byte) bool {
	r := newReader(data)
	v := newReader(r.vec8())
	if !r.done() || len(v.b) == 0 || len(v.b)%2 != 0 {
		return false
	}
	for len(v.b) > 0 {
		if v.u16() == versionTLS13 {
			ch.tls13 = true
		}
	}
	return true
}

func (ch *clientHello) parseKeyShares(data []byte) bool {
	r := newReader(data)
	shares := newReader(r.vec16())
	if !r.done() {
		return false
	}
	for shares.ok && len(shares.b) > 0 {
		g, k := shares.u16(), shares.vec16()
		if _, dup := ch.keyShares[g]; dup || len(k) == 0 {
			return false
		}
		ch.keyShares[g] = k
	}
	return shares.done()
}

func (ch *clientHello) parsePSK(data []byte) bool {
	r := newReader(data)
	ids := newReader(r.vec16())
	binders := newReader(r.vec16())
	if !r.done() {
		return false
	}
	for ids.ok && len(ids.b) > 0 {
		id := ids.vec16()
		ids.u32() // obfuscated_ticket_age: 0 for external PSKs
		if len(id) == 0 {
			return false
		}
		ch.identities = append(ch.identities, string(id))
	}
	ch.bindersLen = 2 + len(binders.b)
	for binders.ok && len(binders.b) > 0 {
		b := binders.vec8()
		if len(b) < 32 {
			return false
		}
		ch.binders = append(ch.binders, b)
	}
	return ids.done() && binders.done() && len(ch.identities) > 0 &&
		len(ch.identities) == len(ch.binders)
}

// OffersPSK reports whether a ClientHello record (as read from the wire,
// starting with the 5-byte record header) offers TLS 1.3 with one of the
// identities known reports. It lets a server holding both certificates and
// PSKs pick the handshake before running it. A hello that is split over
// records or malformed does not offer PSK.
func OffersPSK(record []byte, known func(identity string) bool) bool {
	if len(record) < headerLen+4 || record[0] != recordHandshake || record[headerLen] != typeClientHello {
		return false
	}
	msg := record[headerLen:]
	n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
	if len(msg) < 4+n {
		return false
	}
	ch, err := parseClientHello(msg[:4+n])
	if err != nil || !ch.tls13 {
		return false
	}
	for _, id := range ch.identities {
		if known(id) {
			return true
		}
	}
	return false
}
