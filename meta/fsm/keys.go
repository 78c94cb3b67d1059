package fsm

import (
	"encoding/binary"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Key layout. Everything that belongs to a bucket lives under its prefix
// "b/<bucket>/", so the keyspace can later be split by range into many
// raft groups at bucket (or key) boundaries; the bucket record itself is
// the first key of that range.
//
//	sys/applied                          last applied raft index (8 bytes BE)
//	sys/restoring                        present while a snapshot restore runs
//	sys/pgseq                            last placement group id
//	b/<bucket>/                          Bucket
//	b/<bucket>/o/<key>\x00<^seq BE64>     Object version, newest first per key
//	b/<bucket>/v/<key>\x00<version id>    seq of that version (BE64)
//	b/<bucket>/u/<key>\x00<upload id>     Upload
//	b/<bucket>/p/<key>\x00<upload id>\x00<part BE32>  Part (also a segment of the completed object)
//	segx/<bucket>\x00<key>\x00<upload id> Object whose segments are garbage
//	d/<disk id>                          Disk
//	g/<id BE64>                          PlacementGroup
//	m/<member id>                        Member
//	wi/<intent id>\x00[<stripe id>]       WriteIntent header, its stripes (intents.go)
//	rh/<hex stripe id>                   RepairHint (hints.go)
//
// Object keys may not contain NUL, so "\x00" ends a key and key order is
// kept. seq is the raft index of the command that wrote the version.
var (
	keyApplied   = []byte("sys/applied")
	keyRestoring = []byte("sys/restoring")
	keyPGSeq     = []byte("sys/pgseq")
)

const (
	prefixBuckets = "b/"
	prefixDisks   = "d/"
	prefixGroups  = "g/"
	prefixMembers = "m/"
	// prefixSegGarbage is outside the buckets' range: garbage does not
	// keep a bucket from being deleted.
	prefixSegGarbage = "segx/"
)

func bucketKey(b string) []byte { return []byte(prefixBuckets + b + "/") }

func objPrefix(b string) []byte { return []byte(prefixBuckets + b + "/o/") }

func objKeyPrefix(b, key string) []byte {
	return append(append(objPrefix(b), key...), 0)
}

func versionKey(b, key string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(objKeyPrefix(b, key), ^seq)
}

// splitVersionKey returns the object key and seq of a version key under
// prefix p.
func splitVersionKey(p, k []byte) (string, uint64, bool) {
	if len(k) < len(p)+9 || k[len(k)-9] != 0 {
		return "", 0, false
	}
	return string(k[len(p) : len(k)-9]), ^binary.BigEndian.Uint64(k[len(k)-8:]), true
}

func vidxKey(b, key, vid string) []byte {
	return []byte(prefixBuckets + b + "/v/" + key + "\x00" + vid)
}

func uploadPrefix(b string) []byte { return []byte(prefixBuckets + b + "/u/") }

func uploadKey(b, key, id string) []byte {
	return []byte(prefixBuckets + b + "/u/" + key + "\x00" + id)
}

func partPrefix(b, key, id string) []byte {
	return []byte(prefixBuckets + b + "/p/" + key + "\x00" + id + "\x00")
}

func partKey(b, key, id string, n int32) []byte {
	return binary.BigEndian.AppendUint32(partPrefix(b, key, id), uint32(n))
}

// segGarbageKey marks the segments (part records) of upload id as
// referenced by no version: their chunks are to be freed.
func segGarbageKey(b, key, id string) []byte {
	return []byte(prefixSegGarbage + b + "\x00" + key + "\x00" + id)
}

func diskKey(id string) []byte { return []byte(prefixDisks + id) }

func groupKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixGroups), id)
}

func memberKey(id string) []byte { return []byte(prefixMembers + id) }

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func checkBucketName(op, name string) error {
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\x00") {
		return errs.Errorf(op, errs.Invalid, "invalid bucket name %q", name)
	}
	return nil
}

func checkObjectKey(op, key string) error {
	if key == "" || len(key) > 1024 || strings.Contains(key, "\x00") {
		return errs.Errorf(op, errs.Invalid, "invalid object key %q", key)
	}
	return nil
}

func checkID(op, what, id string) error {
	if id == "" || len(id) > 255 || strings.Contains(id, "\x00") {
		return errs.Errorf(op, errs.Invalid, "invalid %s %q", what, id)
	}
	return nil
}
