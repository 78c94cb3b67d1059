// Package errs gives Wolke errors a Kind that survives the network.
//
// A Kind is a small number from an append-only list; RPC layers send it as a
// number and rebuild the error on the other side, so callers everywhere test
// kinds with errors.Is (errs.Is(err, errs.NotFound)) and never match text.
// Each protocol edge (S3 XML, NBD errno, SQS JSON, DNS rcode) maps kinds to
// its own codes in one table.
package errs

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies an error. The numeric values are part of the wire format:
// append new kinds at the end, never renumber.
type Kind uint8

const (
	Other        Kind = iota // unclassified
	NotFound                 // the named thing does not exist
	Exists                   // the thing to create exists already
	Precondition             // state forbids the operation (bucket not empty, If-Match failed)
	Invalid                  // the request itself is malformed or out of range
	Permission               // the caller may not do this
	Unavailable              // try again later: quorum lost, leader unknown, disk down
	Internal                 // a bug or broken invariant
	Corrupt                  // stored data failed its checksum
	NoSpace                  // out of space
	Canceled                 // the caller gave up (context canceled or deadline)
)

var kindNames = [...]string{
	Other:        "other",
	NotFound:     "not found",
	Exists:       "exists",
	Precondition: "precondition failed",
	Invalid:      "invalid",
	Permission:   "permission denied",
	Unavailable:  "unavailable",
	Internal:     "internal",
	Corrupt:      "corrupt",
	NoSpace:      "no space",
	Canceled:     "canceled",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error implements error so that a bare Kind can be a target of errors.Is.
func (k Kind) Error() string { return k.String() }

// Error is an error with an operation, a kind and an optional cause.
type Error struct {
	Op   string // the operation that failed, e.g. "meta.CreateBucket"
	Kind Kind
	Msg  string // human detail, optional
	Err  error  // the cause, optional
}

func (e *Error) Error() string {
	s := e.Op
	add := func(part string) {
		if part == "" {
			return
		}
		if s != "" {
			s += ": "
		}
		s += part
	}
	add(e.Msg)
	if e.Err != nil {
		add(e.Err.Error())
	} else if e.Msg == "" {
		add(e.Kind.String())
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports a match for a bare Kind target, so errors.Is(err, errs.NotFound) works.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && KindOf(e) == k
}

// E builds an *Error. Its arguments may be, in any order: a string op (the
// first string), a Kind, an error cause; use Msgf/Msg for detail text.
func E(op string, kind Kind, args ...any) error {
	e := &Error{Op: op, Kind: kind}
	for _, a := range args {
		switch v := a.(type) {
		case error:
			e.Err = v
		case string:
			e.Msg = v
		}
	}
	return e
}

// Errorf builds an *Error with a formatted message and no cause.
func Errorf(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the first explicit kind found along the error chain, or
// Other. A context cancellation maps to Canceled.
func KindOf(err error) Kind {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if k := explicitKind(err); k != Other {
			return k
		}
		return Canceled
	}
	return explicitKind(err)
}

func explicitKind(err error) Kind {
	for err != nil {
		if e, ok := err.(*Error); ok && e.Kind != Other {
			return e.Kind
		}
		if k, ok := err.(Kind); ok {
			return k
		}
		err = errors.Unwrap(err)
	}
	return Other
}

// Is reports whether err has kind k anywhere along its chain.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
