package nbd

// Wire constants of the NBD protocol (doc/proto.md of the NetworkBlockDevice
// project). All integers on the wire are big-endian.

const (
	magicNBD        uint64 = 0x4e42444d41474943 // "NBDMAGIC"
	magicOpt        uint64 = 0x49484156454F5054 // "IHAVEOPT"
	magicOptReply   uint64 = 0x0003e889045565a9
	magicRequest    uint32 = 0x25609513
	magicSimple     uint32 = 0x67446698
	magicStructured uint32 = 0x668e33ef
)

// Handshake flags (server) and client flags.
const (
	flagFixedNewstyle   uint16 = 1 << 0
	flagNoZeroes        uint16 = 1 << 1
	clientFixedNewstyle uint32 = 1 << 0
	clientNoZeroes      uint32 = 1 << 1
)

// Options.
const (
	optExportName      uint32 = 1
	optAbort           uint32 = 2
	optList            uint32 = 3
	optStartTLS        uint32 = 5
	optInfo            uint32 = 6
	optGo              uint32 = 7
	optStructuredReply uint32 = 8
	optListMetaContext uint32 = 9
	optSetMetaContext  uint32 = 10
)

// Option reply types.
const (
	repAck         uint32 = 1
	repServer      uint32 = 2
	repInfo        uint32 = 3
	repMetaContext uint32 = 4

	repErrUnsup    uint32 = 1<<31 + 1
	repErrPolicy   uint32 = 1<<31 + 2
	repErrInvalid  uint32 = 1<<31 + 3
	repErrTLSReqd  uint32 = 1<<31 + 5
	repErrUnknown  uint32 = 1<<31 + 6
	repErrShutdown uint32 = 1<<31 + 7
	repErrTooBig   uint32 = 1<<31 + 9
)

// Information types of NBD_REP_INFO.
const (
	infoExport      uint16 = 0
	infoName        uint16 = 1
	infoDescription uint16 = 2
	infoBlockSize   uint16 = 3
)

// Transmission flags.
const (
	tflagHasFlags        uint16 = 1 << 0
	tflagReadOnly        uint16 = 1 << 1
	tflagSendFlush       uint16 = 1 << 2
	tflagSendFUA         uint16 = 1 << 3
	tflagSendTrim        uint16 = 1 << 5
	tflagSendWriteZeroes uint16 = 1 << 6
	tflagCanMultiConn    uint16 = 1 << 8
	tflagSendCache       uint16 = 1 << 10
)

// Commands.
const (
	cmdRead        uint16 = 0
	cmdWrite       uint16 = 1
	cmdDisc        uint16 = 2
	cmdFlush       uint16 = 3
	cmdTrim        uint16 = 4
	cmdCache       uint16 = 5
	cmdWriteZeroes uint16 = 6
	cmdBlockStatus uint16 = 7
	cmdResize      uint16 = 8
)

// Command flags.
const (
	cflagFUA    uint16 = 1 << 0
	cflagNoHole uint16 = 1 << 1
	cflagDF     uint16 = 1 << 2
	cflagReqOne uint16 = 1 << 3
)

// Structured reply flags and types.
const (
	replyFlagDone    uint16 = 1 << 0
	replyNone        uint16 = 0
	replyOffsetData  uint16 = 1
	replyBlockStatus uint16 = 5
	replyError       uint16 = 1<<15 + 1
	replyErrorOffset uint16 = 1<<15 + 2
)

// base:allocation flags.
const (
	stateHole uint32 = 1 << 0
	stateZero uint32 = 1 << 1
)

// Sizes.
const (
	requestSize    = 28   // magic, flags, type, cookie, offset, length
	maxNameLen     = 4096 // strings in the protocol are at most 4096 bytes
	maxOptionLen   = 64 << 10
	metaAllocation = "base:allocation"
	metaAllocID    = 1 // context id handed out for base:allocation
)

// commandName names a command for logs and metrics.
func commandName(t uint16) string {
	switch t {
	case cmdRead:
		return "read"
	case cmdWrite:
		return "write"
	case cmdDisc:
		return "disc"
	case cmdFlush:
		return "flush"
	case cmdTrim:
		return "trim"
	case cmdCache:
		return "cache"
	case cmdWriteZeroes:
		return "write_zeroes"
	case cmdBlockStatus:
		return "block_status"
	default:
		return "other"
	}
}
