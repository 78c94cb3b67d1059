package nbd

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// handshake runs the fixed newstyle negotiation. It returns the session
// to serve, or an error when the connection must close (after an
// NBD_OPT_ABORT too: abortedError).
func (c *conn) handshake(ctx context.Context) (*session, error) {
	const op = "nbd.handshake"
	deadline := time.Now().Add(c.s.cfg.HandshakeTimeout)
	c.setDeadline(deadline)

	var greet [18]byte
	binary.BigEndian.PutUint64(greet[0:], magicNBD)
	binary.BigEndian.PutUint64(greet[8:], magicOpt)
	binary.BigEndian.PutUint16(greet[16:], flagFixedNewstyle|flagNoZeroes)
	if _, err := c.bw.Write(greet[:]); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	var cf [4]byte
	if err := c.readFull(cf[:]); err != nil {
		return nil, err
	}
	flags := binary.BigEndian.Uint32(cf[:])
	if flags&^(clientFixedNewstyle|clientNoZeroes) != 0 {
		return nil, errs.Errorf(op, errs.Invalid, "unknown client flags %#x", flags)
	}
	if flags&clientFixedNewstyle == 0 {
		return nil, errs.E(op, errs.Invalid, "client does not speak fixed newstyle")
	}
	c.noZeroes = flags&clientNoZeroes != 0
	c.phase = "options"

	for {
		var h [16]byte
		if err := c.readFull(h[:]); err != nil {
			return nil, err
		}
		if m := binary.BigEndian.Uint64(h[0:]); m != magicOpt {
			return nil, errs.Errorf(op, errs.Invalid, "bad option magic %#x", m)
		}
		opt := binary.BigEndian.Uint32(h[8:])
		n := binary.BigEndian.Uint32(h[12:])
		if n > maxOptionLen {
			if opt == optExportName {
				return nil, errs.Errorf(op, errs.Invalid, "export name of %d bytes", n)
			}
			if err := c.discard(int64(n)); err != nil {
				return nil, err
			}
			if err := c.replyOpt(opt, repErrTooBig, []byte("option data too long")); err != nil {
				return nil, err
			}
			continue
		}
		data := make([]byte, n)
		if err := c.readFull(data); err != nil {
			return nil, err
		}
		sess, err := c.option(ctx, opt, data)
		if sess != nil || err != nil {
			if sess != nil {
				c.setDeadline(time.Time{})
				c.phase = "transmission"
			}
			return sess, err
		}
	}
}

// option handles one option. A nil session and nil error mean: go on.
func (c *conn) option(ctx context.Context, opt uint32, data []byte) (*session, error) {
	const op = "nbd.option"
	if opt == optAbort {
		_ = c.replyOpt(opt, repAck, nil) // the client may be gone already
		return nil, abortedError{}
	}
	if c.shuttingDown() {
		if opt == optExportName {
			return nil, errs.E(op, errs.Unavailable, "server shutting down")
		}
		_ = c.replyOpt(opt, repErrShutdown, []byte("server is shutting down"))
		return nil, errs.E(op, errs.Unavailable, "server shutting down")
	}
	if c.s.cfg.TLSRequired && !c.tls && opt != optStartTLS {
		if opt == optExportName {
			return nil, errs.E(op, errs.Permission, "NBD_OPT_EXPORT_NAME before STARTTLS")
		}
		return nil, c.replyOpt(opt, repErrTLSReqd, []byte("TLS is required"))
	}
	switch opt {
	case optExportName:
		return c.exportName(ctx, data)
	case optList:
		return nil, c.list(ctx, data)
	case optStartTLS:
		return nil, c.startTLS(ctx, data)
	case optInfo, optGo:
		return c.infoGo(ctx, opt, data)
	case optStructuredReply:
		if len(data) != 0 {
			return nil, c.replyOpt(opt, repErrInvalid, []byte("NBD_OPT_STRUCTURED_REPLY takes no data"))
		}
		c.structured = true
		return nil, c.replyOpt(opt, repAck, nil)
	case optListMetaContext, optSetMetaContext:
		return nil, c.metaContext(ctx, opt, data)
	default:
		return nil, c.replyOpt(opt, repErrUnsup, []byte("option not supported"))
	}
}

// replyOpt sends one option reply.
func (c *conn) replyOpt(opt, typ uint32, data []byte) error {
	var h [20]byte
	binary.BigEndian.PutUint64(h[0:], magicOptReply)
	binary.BigEndian.PutUint32(h[8:], opt)
	binary.BigEndian.PutUint32(h[12:], typ)
	binary.BigEndian.PutUint32(h[16:], uint32(len(data)))
	if _, err := c.bw.Write(h[:]); err != nil {
		return err
	}
	if _, err := c.bw.Write(data); err != nil {
		return err
	}
	return c.bw.Flush()
}

// replyOptErr answers an option with the reply code for err.
func (c *conn) replyOptErr(opt uint32, name string, err error) error {
	code := optionErrorOf(err)
	msg := "export " + name + " is not available"
	switch code {
	case repErrUnknown:
		if errs.Is(err, errs.NotFound) {
			msg = "export " + name + " not found"
		}
		c.log.Info("nbd export not opened", "export", name, "error", err)
	case repErrPolicy:
		msg = "export " + name + " is in use or not permitted"
		c.log.Info("nbd export refused", "export", name, "error", err)
	default:
		c.log.Warn("nbd export open failed", "export", name, "error", err)
	}
	return c.replyOpt(opt, code, []byte(msg))
}

func (c *conn) list(ctx context.Context, data []byte) error {
	if len(data) != 0 {
		return c.replyOpt(optList, repErrInvalid, []byte("NBD_OPT_LIST takes no data"))
	}
	infos, err := c.s.exports.List(ctx)
	if err != nil {
		return c.replyOptErr(optList, "list", err)
	}
	for _, in := range infos {
		p := make([]byte, 4, 4+len(in.Name)+len(in.Description))
		binary.BigEndian.PutUint32(p, uint32(len(in.Name)))
		p = append(p, in.Name...)
		p = append(p, in.Description...)
		if err := c.replyOpt(optList, repServer, p); err != nil {
			return err
		}
	}
	return c.replyOpt(optList, repAck, nil)
}

func (c *conn) startTLS(ctx context.Context, data []byte) error {
	const op = "nbd.startTLS"
	switch {
	case c.s.cfg.TLS == nil && len(c.s.cfg.PSK) == 0:
		return c.replyOpt(optStartTLS, repErrUnsup, []byte("TLS is not configured"))
	case c.tls:
		return c.replyOpt(optStartTLS, repErrInvalid, []byte("TLS is already on"))
	case len(data) != 0:
		return c.replyOpt(optStartTLS, repErrInvalid, []byte("NBD_OPT_STARTTLS takes no data"))
	}
	if err := c.replyOpt(optStartTLS, repAck, nil); err != nil {
		return err
	}
	// TLS reads through the old buffer, which may already hold the start
	// of the client's handshake.
	tc, err := c.tlsHandshake(ctx, &bufferedConn{Conn: c.raw, r: c.br})
	if err != nil {
		return errs.E(op, errs.Permission, err)
	}
	c.nc = tc
	c.br = bufio.NewReaderSize(tc, 64<<10)
	c.bw.Reset(tc)
	c.tls = true
	// Nothing negotiated before STARTTLS survives it.
	c.structured, c.metaOn, c.metaExport = false, false, ""
	return nil
}

func (c *conn) exportName(ctx context.Context, data []byte) (*session, error) {
	const op = "nbd.exportName"
	name := string(data)
	exp, info, err := c.s.exports.Open(ctx, name, c.s.cfg.ReadOnly)
	if err != nil {
		return nil, errs.E(op, errs.KindOf(err), err)
	}
	sess := c.newSession(exp, info, name)
	var p [10 + 124]byte
	binary.BigEndian.PutUint64(p[0:], uint64(exp.Size()))
	binary.BigEndian.PutUint16(p[8:], c.s.transmissionFlags(info))
	n := len(p)
	if c.noZeroes {
		n = 10
	}
	_, err = c.bw.Write(p[:n])
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		_ = exp.Close()
		return nil, err
	}
	return sess, nil
}

// bufferedConn is a connection whose reads come through a buffer.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
