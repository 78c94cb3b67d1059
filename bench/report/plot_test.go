package report

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/bench/s3load"
)

// decodePNG checks that b is a PNG of the plot size with something drawn.
func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() != 768 || r.Dy() != 480 {
		t.Errorf("PNG is %v, want 768x480", r)
	}
	colors := map[[4]uint32]bool{}
	for y := 0; y < 480; y += 3 {
		for x := 0; x < 768; x += 3 {
			r, g, b, a := img.At(x, y).RGBA()
			colors[[4]uint32{r, g, b, a}] = true
		}
	}
	if len(colors) < 4 {
		t.Errorf("PNG has %d colors: nothing drawn", len(colors))
	}
	return img
}

func TestPlotLatencyCDF(t *testing.T) {
	var buf bytes.Buffer
	err := PlotLatencyCDF(&buf, "latency", []Series{
		{Name: "a", Records: readTestCSV(t, "a.csv")},
		{Name: "b", Records: readTestCSV(t, "b.csv")},
	})
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, buf.Bytes())
	err = PlotLatencyCDF(&buf, "failures only", []Series{{Name: "x", Records: []s3load.Record{{Op: s3load.OpGet, Dur: time.Second, Err: "boom"}}}})
	if err == nil || !strings.Contains(err.Error(), "no successful operation") {
		t.Errorf("plot of failures: %v", err)
	}
}

func TestCDFPoints(t *testing.T) {
	lat := make([]time.Duration, 1000)
	for i := range lat {
		lat[i] = time.Duration(i) * time.Microsecond
	}
	xys := cdf(lat)
	if len(xys) > cdfPoints+1 || xys[len(xys)-1].Y != 100 || xys[0].X != 0.001 {
		t.Errorf("%d points, first %v, last %v", len(xys), xys[0], xys[len(xys)-1])
	}
	for i := 1; i < len(xys); i++ {
		if xys[i].X < xys[i-1].X || xys[i].Y <= xys[i-1].Y {
			t.Fatalf("CDF not increasing at %d: %v then %v", i, xys[i-1], xys[i])
		}
	}
}

func TestPlotThroughput(t *testing.T) {
	var pts []ThroughputPoint
	for _, c := range []int{16, 1, 4} {
		pts = append(pts,
			ThroughputPoint{Series: "GET", Concurrent: c, OpsPerSec: 100 * float64(c), BytesPerSec: float64(c << 20)},
			ThroughputPoint{Series: "PUT", Concurrent: c, OpsPerSec: 50 * float64(c), BytesPerSec: float64(c << 19)})
	}
	var buf bytes.Buffer
	if err := PlotThroughput(&buf, "sweep", pts); err != nil {
		t.Fatal(err)
	}
	decodePNG(t, buf.Bytes())
	if err := PlotThroughput(&buf, "empty", nil); err == nil {
		t.Error("empty plot accepted")
	}
}

func TestConcurrencyAndPoints(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(op s3load.Op, start, dur int) s3load.Record {
		return s3load.Record{Op: op, Start: t0.Add(time.Duration(start) * time.Millisecond), Dur: time.Duration(dur) * time.Millisecond}
	}
	for _, tc := range []struct {
		name string
		recs []s3load.Record
		want int
	}{
		{"none", nil, 0},
		{"sequential, touching", []s3load.Record{at("GET", 0, 10), at("GET", 10, 10), at("GET", 20, 10)}, 1},
		{"three overlap", []s3load.Record{at("GET", 0, 100), at("PUT", 10, 100), at("GET", 20, 10), at("GET", 200, 1)}, 3},
		{"parts inside uploads", []s3load.Record{at("MULTIPART", 0, 100), at("PUTPART", 0, 50), at("PUTPART", 50, 50)}, 1},
	} {
		if got := Concurrency(tc.recs); got != tc.want {
			t.Errorf("%s: Concurrency = %d, want %d", tc.name, got, tc.want)
		}
	}
	res := &s3load.Result{Concurrent: 8, Ops: s3load.Summarize(readTestCSV(t, "a.csv"))}
	pts := Points(res, "1MiB")
	if len(pts) != 3 || pts[1].Series != "GET 1MiB" || pts[1].Concurrent != 8 || pts[1].OpsPerSec != 0.75 {
		t.Errorf("points %+v", pts)
	}
}
