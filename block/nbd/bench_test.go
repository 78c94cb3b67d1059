package nbd_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/nbd/nbdtest"
)

// BenchmarkRead4K and BenchmarkWrite4K measure the server's request path
// (memory export, one connection, 32 requests in flight).
func BenchmarkRead4K(b *testing.B)  { benchIO(b, cRead) }
func BenchmarkWrite4K(b *testing.B) { benchIO(b, cWrite) }

func benchIO(b *testing.B, typ uint16) {
	const depth, bs, size = 32, 4096, 64 << 20
	x := nbdtest.NewExports()
	x.Add(nbd.ExportInfo{Name: "vol"}, nbdtest.NewMem(size))
	h := startServer(b, nbd.Config{}, x)
	c := dialRaw(b, h.addr)
	c.start()
	c.goExport("vol")
	_ = c.conn.SetDeadline(time.Time{})

	slots := make(chan struct{}, depth)
	errc := make(chan error, 1)
	b.SetBytes(bs)
	b.ResetTimer()
	go func() {
		hdr := make([]byte, 28)
		payload := make([]byte, bs)
		for i := range b.N {
			slots <- struct{}{}
			binary.BigEndian.PutUint32(hdr[0:], wReqMagic)
			binary.BigEndian.PutUint16(hdr[6:], typ)
			binary.BigEndian.PutUint64(hdr[8:], uint64(i))
			binary.BigEndian.PutUint64(hdr[16:], uint64(i*bs*7)%size)
			binary.BigEndian.PutUint32(hdr[24:], bs)
			_, err := c.w.Write(hdr)
			if err == nil && typ == cWrite {
				_, err = c.w.Write(payload)
			}
			if err == nil && (len(slots) == depth || i == b.N-1) {
				err = c.w.Flush()
			}
			if err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	dataLen := 0
	if typ == cRead {
		dataLen = bs
	}
	for range b.N {
		if errno, _, _ := c.simple(dataLen); errno != 0 {
			b.Fatalf("errno %d", errno)
		}
		<-slots
	}
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
