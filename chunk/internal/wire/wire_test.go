package wire

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestKindRoundTrip(t *testing.T) {
	for k := errs.Other; k <= errs.Canceled; k++ {
		status := Status(k)
		if got := Kind(status, strconv.Itoa(int(k))); got != k {
			t.Errorf("kind %v → %d → %v", k, status, got)
		}
	}
}

func TestKindFromStatus(t *testing.T) {
	cases := []struct {
		status int
		want   errs.Kind
	}{
		{http.StatusNotFound, errs.NotFound},
		{http.StatusBadRequest, errs.Invalid},
		{http.StatusInsufficientStorage, errs.NoSpace},
		{http.StatusServiceUnavailable, errs.Unavailable},
		{http.StatusBadGateway, errs.Unavailable},
		{http.StatusTeapot, errs.Other},
	}
	for _, c := range cases {
		if got := Kind(c.status, ""); got != c.want {
			t.Errorf("Kind(%d) = %v, want %v", c.status, got, c.want)
		}
	}
}

func TestCRC(t *testing.T) {
	// The CRC32C check value of "123456789" is e3069283.
	c := CRC32C([]byte("123456789"))
	if s := FormatCRC(c); s != "e3069283" {
		t.Fatalf("FormatCRC = %s", s)
	}
	if got, err := ParseCRC("e3069283"); err != nil || got != c {
		t.Fatalf("ParseCRC = %x, %v", got, err)
	}
	for _, bad := range []string{"", "xyz", "e30692830", "zzzzzzzz"} {
		if _, err := ParseCRC(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseCRC(%q) = %v, want Invalid", bad, err)
		}
	}
}
