package nbd

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// TestReadInline: a READ runs on the reader only with nothing in flight
// or waiting; after an inline READ the client sent more during, the next
// READ goes to a worker.
func TestReadInline(t *testing.T) {
	ss := &session{c: &conn{br: bufio.NewReader(strings.NewReader(""))}, sem: make(chan struct{}, 2)}
	if !ss.readInline() {
		t.Fatal("idle: not inline")
	}
	ss.pipelined = true
	if ss.readInline() || !ss.readInline() {
		t.Fatal("pipelined: want one READ to a worker, then inline again")
	}
	ss.sem <- struct{}{}
	if ss.readInline() {
		t.Fatal("inline with a request in flight")
	}
	<-ss.sem
	ss.c.br = bufio.NewReader(strings.NewReader("next request"))
	if _, err := ss.c.br.Peek(1); err != nil {
		t.Fatal(err)
	}
	if ss.readInline() {
		t.Fatal("inline with a request waiting")
	}
}

// TestPending: pending sees bytes the kernel holds for the socket.
func TestPending(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	c := &conn{raw: server, br: bufio.NewReader(server)}
	if c.pending() {
		t.Fatal("pending before the client sent anything")
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); !c.pending(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("a sent byte never pending")
		}
	}
	pipe, other := net.Pipe()
	defer pipe.Close()
	defer other.Close()
	if (&conn{raw: pipe, br: bufio.NewReader(pipe)}).pending() {
		t.Fatal("pending on a connection that is no socket")
	}
}
