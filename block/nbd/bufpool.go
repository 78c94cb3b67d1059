package nbd

import "github.com/wolke-cloud/wolke/internal/bufpool"

// bufPool recycles READ and WRITE data buffers, so that a request does
// not allocate (and zero) its buffer. Buffers are handed to Export calls,
// which must not keep them after returning.
type bufPool = bufpool.Pool
