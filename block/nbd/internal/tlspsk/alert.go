package tlspsk

import "strconv"

// Alert descriptions (RFC 8446 §6).
const (
	alertCloseNotify        = 0
	alertUnexpectedMessage  = 10
	alertBadRecordMAC       = 20
	alertRecordOverflow     = 22
	alertHandshakeFailure   = 40
	alertIllegalParameter   = 47
	alertDecodeError        = 50
	alertDecryptError       = 51
	alertProtocolVersion    = 70
	alertInternalError      = 80
	alertMissingExtension   = 109
	alertUnknownPSKIdentity = 115
)

var alertNames = map[uint8]string{
	alertCloseNotify: "close_notify", alertUnexpectedMessage: "unexpected_message",
	alertBadRecordMAC: "bad_record_mac", alertRecordOverflow: "record_overflow",
	alertHandshakeFailure: "handshake_failure", alertIllegalParameter: "illegal_parameter",
	alertDecodeError: "decode_error", alertDecryptError: "decrypt_error",
	alertProtocolVersion: "protocol_version", alertInternalError: "internal_error",
	alertMissingExtension: "missing_extension", alertUnknownPSKIdentity: "unknown_psk_identity",
}

func alertName(a uint8) string {
	if s, ok := alertNames[a]; ok {
		return s
	}
	return "alert " + strconv.Itoa(int(a))
}

// alertError is a failure this side reports to the peer with the alert.
type alertError uint8

func (a alertError) Error() string { return "tls: " + alertName(uint8(a)) }

// HandshakeError explains why a handshake failed; Alert is what the peer
// was told (or, with Remote, what the peer said).
type HandshakeError struct {
	Reason string
	Alert  uint8
	Remote bool
	Err    error // the cause: an I/O error, an alert
}

func (e *HandshakeError) Unwrap() error { return e.Err }

func (e *HandshakeError) Error() string {
	switch {
	case e.Remote:
		return "tls-psk: peer sent alert " + alertName(e.Alert) + ": " + e.Reason
	case e.Alert == noAlert:
		return "tls-psk: " + e.Reason
	}
	return "tls-psk: " + e.Reason + " (sent " + alertName(e.Alert) + ")"
}

// noAlert marks a HandshakeError on which no alert was sent (I/O).
const noAlert = 0xff

// remoteAlert is a fatal alert from the peer.
type remoteAlert uint8

func (a remoteAlert) Error() string { return "tls: peer sent " + alertName(uint8(a)) }
