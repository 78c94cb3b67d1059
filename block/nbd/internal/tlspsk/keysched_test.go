package tlspsk

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"errors"
	"testing"
)

// Values of RFC 8448 §3, "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256,
// X25519, no PSK: the early secret comes from 32 zero bytes).
const (
	rfcClientPriv  = "49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005"
	rfcServerPub   = "c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f"
	rfcShared      = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d"
	rfcEarly       = "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"
	rfcHandshake   = "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac"
	rfcMaster      = "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919"
	rfcHelloHash   = "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8"
	rfcCHS         = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
	rfcSHS         = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
	rfcFinHash     = "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13"
	rfcClientFin   = "a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61"
	rfcCAP         = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"
	rfcSAP         = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"
	rfcAppRecord   = "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4"
	rfcAlertRecord = "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func expectHex(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if hex.EncodeToString(got) != want {
		t.Errorf("%s:\n got %x\nwant %s", what, got, want)
	}
}

func TestKeyScheduleRFC8448(t *testing.T) {
	priv, err := ecdh.X25519().NewPrivateKey(unhex(t, rfcClientPriv))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecdh.X25519().NewPublicKey(unhex(t, rfcServerPub))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		t.Fatal(err)
	}
	expectHex(t, "x25519 shared secret", shared, rfcShared)

	s := newSchedule(make([]byte, hashLen))
	expectHex(t, "early secret", s.early, rfcEarly)
	s.withShared(shared)
	expectHex(t, "handshake secret", s.handshake, rfcHandshake)
	expectHex(t, "master secret", s.master, rfcMaster)

	hello := unhex(t, rfcHelloHash)
	cHS := deriveSecret(s.handshake, "c hs traffic", hello)
	sHS := deriveSecret(s.handshake, "s hs traffic", hello)
	expectHex(t, "client handshake traffic secret", cHS, rfcCHS)
	expectHex(t, "server handshake traffic secret", sHS, rfcSHS)
	expectHex(t, "server handshake key", expandLabel(sHS, "key", nil, 16), "3fce516009c21727d0f2e4e86ee403bc")
	expectHex(t, "server handshake iv", expandLabel(sHS, "iv", nil, 12), "5d313eb2671276ee13000b30")
	expectHex(t, "client handshake key", expandLabel(cHS, "key", nil, 16), "dbfaa693d1762c5b666af5d950258d01")
	expectHex(t, "client handshake iv", expandLabel(cHS, "iv", nil, 12), "5bd3c71b836e0b76bb73265f")

	fin := unhex(t, rfcFinHash)
	expectHex(t, "client Finished", finishedMAC(cHS, fin), rfcClientFin)
	expectHex(t, "client application traffic secret", deriveSecret(s.master, "c ap traffic", fin), rfcCAP)
	expectHex(t, "server application traffic secret", deriveSecret(s.master, "s ap traffic", fin), rfcSAP)
	expectHex(t, "client application key", expandLabel(unhex(t, rfcCAP), "key", nil, 16), "17422dda596ed5d9acd890e3c63f5051")
	expectHex(t, "client application iv", expandLabel(unhex(t, rfcCAP), "iv", nil, 12), "5b78923dee08579033e523d9")
}

// TestRecordRFC8448 protects and opens the client's records of RFC 8448
// §3: 50 bytes of application data (sequence 0), then close_notify.
func TestRecordRFC8448(t *testing.T) {
	payload := make([]byte, 50)
	for i := range payload {
		payload[i] = byte(i)
	}
	var w halfConn
	w.setSecret(unhex(t, rfcCAP))
	rec := w.seal(nil, recordAppData, payload)
	expectHex(t, "application data record", rec, rfcAppRecord)
	rec2 := w.seal(nil, recordAlert, []byte{1, alertCloseNotify})
	expectHex(t, "close_notify record", rec2, rfcAlertRecord)

	var r halfConn
	r.setSecret(unhex(t, rfcCAP))
	for _, c := range []struct {
		rec  []byte
		typ  byte
		data []byte
	}{{rec, recordAppData, payload}, {rec2, recordAlert, []byte{1, 0}}} {
		hdr, body, err := readRecord(bytes.NewReader(c.rec))
		if err != nil {
			t.Fatal(err)
		}
		typ, data, err := r.open(hdr[:], body)
		if err != nil || typ != c.typ || !bytes.Equal(data, c.data) {
			t.Fatalf("open: type %d data %x err %v", typ, data, err)
		}
	}

	// A flipped bit, a replay (wrong sequence number) and a changed
	// header all fail with bad_record_mac.
	for name, mutate := range map[string]func([]byte){
		"flipped bit": func(b []byte) { b[20] ^= 1 },
		"replay":      func([]byte) {},
		"header":      func(b []byte) { b[2] = 1 },
	} {
		var r halfConn
		r.setSecret(unhex(t, rfcCAP))
		if name == "replay" {
			r.seq = 1
		}
		b := bytes.Clone(rec)
		mutate(b)
		hdr, body, err := readRecord(bytes.NewReader(b))
		if err == nil {
			_, _, err = r.open(hdr[:], body)
		}
		var ae alertError
		if !errors.As(err, &ae) || (ae != alertBadRecordMAC && ae != alertProtocolVersion) {
			t.Errorf("%s: %v, want bad_record_mac", name, err)
		}
	}
}

func TestReadRecordLimits(t *testing.T) {
	for name, c := range map[string]struct {
		hdr  []byte
		want alertError
	}{
		"too long":     {[]byte{recordAppData, 3, 3, 0x41, 0x01}, alertRecordOverflow},
		"unknown type": {[]byte{99, 3, 3, 0, 1}, alertUnexpectedMessage},
		"SSL 2":        {[]byte{recordHandshake, 2, 0, 0, 1}, alertProtocolVersion},
	} {
		_, _, err := readRecord(bytes.NewReader(append(c.hdr, make([]byte, 20000)...)))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
