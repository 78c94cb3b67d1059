package nbd

import (
	"context"
	"encoding/binary"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// parseInfoRequest parses the data of NBD_OPT_INFO and NBD_OPT_GO.
func parseInfoRequest(data []byte) (name string, reqs []uint16, err error) {
	const op = "nbd.parseInfoRequest"
	if len(data) < 6 {
		return "", nil, errs.E(op, errs.Invalid, "option data too short")
	}
	n := binary.BigEndian.Uint32(data)
	if n > maxNameLen || int(n) > len(data)-6 {
		return "", nil, errs.E(op, errs.Invalid, "bad export name length")
	}
	name = string(data[4 : 4+n])
	rest := data[4+n:]
	k := int(binary.BigEndian.Uint16(rest))
	if len(rest) != 2+2*k {
		return "", nil, errs.E(op, errs.Invalid, "bad information request count")
	}
	for i := range k {
		reqs = append(reqs, binary.BigEndian.Uint16(rest[2+2*i:]))
	}
	return name, reqs, nil
}

// parseMetaRequest parses the data of NBD_OPT_{LIST,SET}_META_CONTEXT.
func parseMetaRequest(data []byte) (name string, queries []string, err error) {
	const op = "nbd.parseMetaRequest"
	take := func() (string, bool) {
		if len(data) < 4 {
			return "", false
		}
		n := binary.BigEndian.Uint32(data)
		if n > maxNameLen || int(n) > len(data)-4 {
			return "", false
		}
		s := string(data[4 : 4+n])
		data = data[4+n:]
		return s, true
	}
	name, ok := take()
	if !ok || len(data) < 4 {
		return "", nil, errs.E(op, errs.Invalid, "bad export name")
	}
	k := binary.BigEndian.Uint32(data)
	data = data[4:]
	if k > uint32(len(data)/4) {
		return "", nil, errs.E(op, errs.Invalid, "bad query count")
	}
	for range k {
		q, ok := take()
		if !ok {
			return "", nil, errs.E(op, errs.Invalid, "bad query")
		}
		if !strings.Contains(q, ":") {
			return "", nil, errs.Errorf(op, errs.Invalid, "query %q has no namespace", q)
		}
		queries = append(queries, q)
	}
	if len(data) != 0 {
		return "", nil, errs.E(op, errs.Invalid, "trailing option data")
	}
	return name, queries, nil
}

// matchMeta returns the contexts a query list selects. With list set,
// no queries and the "base:" wildcard select every context.
func matchMeta(queries []string, list bool) bool {
	if list && len(queries) == 0 {
		return true
	}
	for _, q := range queries {
		if q == metaAllocation || (list && q == "base:") {
			return true
		}
	}
	return false
}

func (c *conn) infoGo(ctx context.Context, opt uint32, data []byte) (*session, error) {
	name, reqs, err := parseInfoRequest(data)
	if err != nil {
		return nil, c.replyOpt(opt, repErrInvalid, []byte(err.Error()))
	}
	readOnly := c.s.cfg.ReadOnly || opt == optInfo
	exp, info, err := c.s.exports.Open(ctx, name, readOnly)
	if err != nil {
		return nil, c.replyOptErr(opt, name, err)
	}
	if err := c.sendInfo(opt, exp.Size(), info, name, reqs); err != nil {
		_ = exp.Close()
		return nil, err
	}
	if opt == optInfo {
		return nil, exp.Close()
	}
	return c.newSession(exp, info, name), nil
}

// sendInfo sends the NBD_REP_INFO replies and the final ACK.
func (c *conn) sendInfo(opt uint32, size int64, info ExportInfo, name string, reqs []uint16) error {
	var p [18]byte
	binary.BigEndian.PutUint16(p[0:], infoExport)
	binary.BigEndian.PutUint64(p[2:], uint64(size))
	binary.BigEndian.PutUint16(p[10:], c.s.transmissionFlags(info))
	if err := c.replyOpt(opt, repInfo, p[:12]); err != nil {
		return err
	}
	// Block sizes go out whether asked or not: clients ignore what they
	// did not ask for, and those that did not ask get EINVAL for
	// misaligned requests.
	minB, prefB, maxB := c.s.blockSizes(info)
	binary.BigEndian.PutUint16(p[0:], infoBlockSize)
	binary.BigEndian.PutUint32(p[2:], minB)
	binary.BigEndian.PutUint32(p[6:], prefB)
	binary.BigEndian.PutUint32(p[10:], maxB)
	if err := c.replyOpt(opt, repInfo, p[:14]); err != nil {
		return err
	}
	for _, r := range reqs {
		var text string
		switch r {
		case infoName:
			text = info.Name
			if text == "" {
				text = name
			}
		case infoDescription:
			text = info.Description
		default:
			continue
		}
		if r == infoDescription && text == "" {
			continue
		}
		b := make([]byte, 2, 2+len(text))
		binary.BigEndian.PutUint16(b, r)
		if err := c.replyOpt(opt, repInfo, append(b, text...)); err != nil {
			return err
		}
	}
	return c.replyOpt(opt, repAck, nil)
}

func (c *conn) metaContext(ctx context.Context, opt uint32, data []byte) error {
	if opt == optSetMetaContext {
		c.metaOn, c.metaExport = false, "" // replaced even when this fails
	}
	if !c.structured {
		return c.replyOpt(opt, repErrInvalid, []byte("negotiate structured replies first"))
	}
	name, queries, err := parseMetaRequest(data)
	if err != nil {
		return c.replyOpt(opt, repErrInvalid, []byte(err.Error()))
	}
	exp, _, err := c.s.exports.Open(ctx, name, true)
	if err != nil {
		return c.replyOptErr(opt, name, err)
	}
	if err := exp.Close(); err != nil {
		c.log.Warn("nbd export close failed", "export", name, "error", err)
	}
	if matchMeta(queries, opt == optListMetaContext) {
		id := uint32(0) // reserved in LIST replies
		if opt == optSetMetaContext {
			id = metaAllocID
			c.metaOn, c.metaExport = true, name
		}
		p := make([]byte, 4, 4+len(metaAllocation))
		binary.BigEndian.PutUint32(p, id)
		if err := c.replyOpt(opt, repMetaContext, append(p, metaAllocation...)); err != nil {
			return err
		}
	}
	return c.replyOpt(opt, repAck, nil)
}
