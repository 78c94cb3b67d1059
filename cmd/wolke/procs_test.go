package main

import "testing"

func TestIOProcs(t *testing.T) {
	for _, c := range []struct {
		def  int
		env  string
		want int
	}{
		{2, "", 8},
		{16, "", 22},
		{2, "3", 0}, // the operator's GOMAXPROCS stays
	} {
		if got := ioProcs(c.def, c.env); got != c.want {
			t.Errorf("ioProcs(%d, %q) = %d, want %d", c.def, c.env, got, c.want)
		}
	}
}
