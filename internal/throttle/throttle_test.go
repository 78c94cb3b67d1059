package throttle

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	base := time.Unix(1000, 0)
	tests := []struct {
		name  string
		rate  int64
		sizes []int
		want  []time.Duration
	}{
		{"burst of one second is free", 1000, []int{500, 500}, []time.Duration{0, 0}},
		{"beyond the burst waits", 1000, []int{1000, 500, 500}, []time.Duration{0, 500 * time.Millisecond, time.Second}},
		{"large first request", 100, []int{300}, []time.Duration{2 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := New(tc.rate)
			l.now = func() time.Time { return base }
			for i, n := range tc.sizes {
				if got := l.delay(n); got != tc.want[i] {
					t.Fatalf("request %d of %d bytes: delay %v, want %v", i, n, got, tc.want[i])
				}
			}
		})
	}
}

func TestUnlimitedAndCanceled(t *testing.T) {
	var zero *Limiter
	if err := zero.Wait(context.Background(), 1<<30); err != nil {
		t.Fatalf("nil limiter: %v", err)
	}
	if err := New(0).Wait(context.Background(), 1<<30); err != nil {
		t.Fatalf("unlimited: %v", err)
	}
	l := New(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, 1000); err == nil {
		t.Fatal("wait of 1000 s on a canceled ctx returned nil")
	}
}
