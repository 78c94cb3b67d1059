package tlspsk

// reader decodes the TLS presentation language: big-endian integers and
// length-prefixed vectors. A short input makes ok false and every later
// read return zero values.
type reader struct {
	b  []byte
	ok bool
}

func newReader(b []byte) *reader { return &reader{b: b, ok: true} }

func (r *reader) take(n int) []byte {
	if !r.ok || n < 0 || len(r.b) < n {
		r.ok = false
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() int {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (r *reader) u16() int {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int(b[0])<<8 | int(b[1])
}

func (r *reader) u24() int {
	b := r.take(3)
	if b == nil {
		return 0
	}
	return int(b[0])<<16 | int(b[1])<<8 | int(b[2])
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (r *reader) vec8() []byte  { return r.take(r.u8()) }
func (r *reader) vec16() []byte { return r.take(r.u16()) }

// done reports whether everything was read and nothing was short.
func (r *reader) done() bool { return r.ok && len(r.b) == 0 }

func appendU16(b []byte, v int) []byte { return append(b, byte(v>>8), byte(v)) }

func appendU24(b []byte, v int) []byte { return append(b, byte(v>>16), byte(v>>8), byte(v)) }

func appendVec8(b, v []byte) []byte { return append(append(b, byte(len(v))), v...) }

func appendVec16(b, v []byte) []byte { return append(appendU16(b, len(v)), v...) }

// handshakeMsg frames a handshake message body.
func handshakeMsg(typ byte, body []byte) []byte {
	m := make([]byte, 0, 4+len(body))
	m = append(m, typ)
	m = appendU24(m, len(body))
	return append(m, body...)
}
