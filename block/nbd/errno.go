package nbd

import "github.com/wolke-cloud/wolke/internal/errs"

// NBD error values (the errno numbers of the protocol).
const (
	errnoOK        uint32 = 0
	errnoEPERM     uint32 = 1
	errnoEIO       uint32 = 5
	errnoENOMEM    uint32 = 12
	errnoEINVAL    uint32 = 22
	errnoENOSPC    uint32 = 28
	errnoEOVERFLOW uint32 = 75
	errnoENOTSUP   uint32 = 95
	errnoESHUTDOWN uint32 = 108
)

// errnoOf maps an error kind from an Export to the NBD errno: the one table
// at this protocol's edge.
func errnoOf(err error) uint32 {
	if err == nil {
		return errnoOK
	}
	switch errs.KindOf(err) {
	case errs.Invalid:
		return errnoEINVAL
	case errs.Permission:
		return errnoEPERM
	case errs.NoSpace:
		return errnoENOSPC
	case errs.Canceled:
		return errnoESHUTDOWN
	default: // Corrupt, Internal, Unavailable, NotFound, Precondition, Other
		return errnoEIO
	}
}

// errnoName names an errno for metrics and logs.
func errnoName(e uint32) string {
	switch e {
	case errnoEPERM:
		return "EPERM"
	case errnoEIO:
		return "EIO"
	case errnoENOMEM:
		return "ENOMEM"
	case errnoEINVAL:
		return "EINVAL"
	case errnoENOSPC:
		return "ENOSPC"
	case errnoEOVERFLOW:
		return "EOVERFLOW"
	case errnoENOTSUP:
		return "ENOTSUP"
	case errnoESHUTDOWN:
		return "ESHUTDOWN"
	default:
		return "other"
	}
}

// optionErrorOf maps an error from Exports.Open or List to an option reply.
func optionErrorOf(err error) uint32 {
	switch errs.KindOf(err) {
	case errs.NotFound:
		return repErrUnknown
	case errs.Precondition, errs.Permission:
		return repErrPolicy
	case errs.Invalid:
		return repErrInvalid
	case errs.Canceled:
		return repErrShutdown
	default:
		// No better code exists: the export cannot be used now.
		return repErrUnknown
	}
}
