// Package nbd serves block exports over the Network Block Device protocol
// (doc/proto.md of the NetworkBlockDevice project), for qemu, libnbd
// (nbdinfo, nbdcopy, nbdfuse), fio's nbd engine and the Linux nbd client.
//
// Handshake: fixed newstyle only, with NBD_FLAG_NO_ZEROES. Oldstyle and
// plain newstyle clients are refused. Options: EXPORT_NAME, ABORT, LIST,
// INFO and GO (NBD_INFO_EXPORT, NAME, DESCRIPTION, BLOCK_SIZE),
// STRUCTURED_REPLY, LIST_META_CONTEXT and SET_META_CONTEXT (base:allocation)
// and STARTTLS when Config.TLS (certificates) or Config.PSK (TLS 1.3
// pre-shared keys as qemu's tls-creds-psk and libnbd's tls-psk-file use
// them, served by internal/tlspsk since crypto/tls has no PSK) is set
// (Config.TLSRequired answers every other option with
// NBD_REP_ERR_TLS_REQD and hangs up on EXPORT_NAME); anything else gets
// NBD_REP_ERR_UNSUP.
//
// Transmission: READ, WRITE, FLUSH, TRIM, WRITE_ZEROES (NO_HOLE), CACHE,
// BLOCK_STATUS (REQ_ONE) and DISC, with FUA. Requests of one connection
// run concurrently on at most Config.Workers goroutines and are answered
// as they finish; one mutex keeps reply frames whole. A plain WRITE the
// export can take at once (its write cache has room: the optional
// TryWriteAt) runs on the connection's reader instead, and a run of such
// replies leaves in one socket write before the reader waits for the
// client. So does a READ that finds nothing else in flight or waiting (a
// client at queue depth 1, which then waits for no thread wake-up); one
// that takes longer than 500 µs hands reading on to a new goroutine, so
// it holds up nothing sent behind it. With structured replies READ
// answers with one OFFSET_DATA chunk (or ERROR/ERROR_OFFSET) and
// BLOCK_STATUS with one BLOCK_STATUS chunk; other commands always get
// simple replies, which the protocol allows.
//
// Every request is checked before it reaches the Export: unknown commands
// and flags, misalignment to the minimum block size (512 unless the
// export says otherwise, enforced even for clients that did not ask for
// block sizes), lengths over the maximum block size and ranges past the
// end get EINVAL (ENOSPC for writes past the end, as the protocol asks);
// writes to a read-only export get EPERM; RESIZE gets ENOTSUP. Errors
// from the Export map by kind (errnoOf): Invalid → EINVAL, Permission →
// EPERM, NoSpace → ENOSPC, Canceled → ESHUTDOWN, everything else → EIO.
//
// Shutdown: when Serve's context ends the listener closes, requests in
// flight finish and are answered, new requests get ESHUTDOWN for
// Config.ShutdownGrace (options get NBD_REP_ERR_SHUTDOWN), then the
// connections close. Config.DrainTimeout bounds the wait for requests in
// flight. Close ends everything at once.
package nbd
