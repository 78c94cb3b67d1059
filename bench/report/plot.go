package report

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/wolke-cloud/wolke/bench/s3load"
)

// Plot size, in the PNG at vgimg's default 96 dpi: 768 × 480 pixels.
const plotW, plotH = 8 * vg.Inch, 5 * vg.Inch

// cdfPoints caps the points a CDF line is drawn with.
const cdfPoints = 200

// Series is the operations of one run, for plots.
type Series struct {
	Name    string
	Records []s3load.Record
}

// ThroughputPoint is one run of a concurrency sweep.
type ThroughputPoint struct {
	Series      string // a line: e.g. "GET" or "GET 1MiB"
	Concurrent  int
	OpsPerSec   float64
	BytesPerSec float64
}

// PlotLatencyCDF draws, as a PNG, the latency distribution of every
// operation of every series: the share of operations (y) that finished
// within a latency (x, log scale). Failed operations are left out.
func PlotLatencyCDF(w io.Writer, title string, series []Series) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "latency (ms)"
	p.Y.Label.Text = "operations done (%)"
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 100
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Points(30)
	lines := 0
	for _, s := range series {
		by := map[s3load.Op][]time.Duration{}
		var ops []s3load.Op
		for _, r := range s.Records {
			if r.Err != "" {
				continue
			}
			if _, ok := by[r.Op]; !ok {
				ops = append(ops, r.Op)
			}
			by[r.Op] = append(by[r.Op], r.Dur)
		}
		for _, op := range ops {
			lat := by[op]
			slices.Sort(lat)
			if err := addLine(p, lines, fmt.Sprintf("%s %s", s.Name, op), cdf(lat)); err != nil {
				return err
			}
			lines++
		}
	}
	if lines == 0 {
		return errors.New("plot: no successful operation to draw")
	}
	return writePNG(w, p)
}

// cdf samples sorted latencies into at most cdfPoints points (ms, %).
func cdf(sorted []time.Duration) plotter.XYs {
	n := len(sorted)
	step := max(1, n/cdfPoints)
	var xys plotter.XYs
	for i := 0; i < n; i += step {
		xys = append(xys, plotter.XY{X: ms(sorted[i]), Y: 100 * float64(i+1) / float64(n)})
	}
	if last := xys[len(xys)-1]; last.Y < 100 {
		xys = append(xys, plotter.XY{X: ms(sorted[n-1]), Y: 100})
	}
	return xys
}

// ms is a latency in milliseconds, at least 1 µs: the axis is logarithmic.
func ms(d time.Duration) float64 {
	return max(float64(d)/float64(time.Millisecond), 0.001)
}

// PlotThroughput draws, as a PNG, throughput against concurrency, a line per
// series: MiB/s when the points move bytes, operations per second otherwise.
func PlotThroughput(w io.Writer, title string, points []ThroughputPoint) error {
	if len(points) == 0 {
		return errors.New("plot: no throughput points")
	}
	useBytes := false
	for _, pt := range points {
		useBytes = useBytes || pt.BytesPerSec > 0
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "concurrent operations"
	p.Y.Label.Text = "operations/s"
	if useBytes {
		p.Y.Label.Text = "MiB/s"
	}
	p.X.Min, p.Y.Min = 0, 0
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(10)
	by := map[string]plotter.XYs{}
	var names []string
	top := 0.0
	for _, pt := range points {
		if _, ok := by[pt.Series]; !ok {
			names = append(names, pt.Series)
		}
		y := pt.OpsPerSec
		if useBytes {
			y = pt.BytesPerSec / mib
		}
		by[pt.Series] = append(by[pt.Series], plotter.XY{X: float64(pt.Concurrent), Y: y})
		top = max(top, y)
	}
	p.Y.Max = max(top, 1e-9) * 1.15 // room for the legend above the highest line
	for i, name := range names {
		xys := by[name]
		slices.SortFunc(xys, func(a, b plotter.XY) int { return int(a.X - b.X) })
		if err := addLine(p, i, name, xys); err != nil {
			return err
		}
	}
	return writePNG(w, p)
}

func addLine(p *plot.Plot, i int, name string, xys plotter.XYs) error {
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("plot %s: %w", name, err)
	}
	c := plotutil.Color(i)
	l.Color, pts.Color = c, c
	l.Dashes = plotutil.Dashes(i / 7)
	pts.Shape = draw.CircleGlyph{}
	pts.Radius = vg.Points(1.5)
	if len(xys) > 40 {
		pts.Radius = 0
		pts.Color = color.Transparent
	}
	p.Add(l, pts)
	p.Legend.Add(name, l)
	return nil
}

func writePNG(w io.Writer, p *plot.Plot) error {
	c := vgimg.New(plotW, plotH)
	p.Draw(draw.New(c))
	_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
	return err
}

// Points turns a run into throughput points, one per operation, named by
// the operation (and label, when given, e.g. an object size).
func Points(res *s3load.Result, label string) []ThroughputPoint {
	var out []ThroughputPoint
	for _, s := range res.Ops {
		name := string(s.Op)
		if label != "" {
			name += " " + label
		}
		out = append(out, ThroughputPoint{Series: name, Concurrent: res.Concurrent, OpsPerSec: s.OpsPerSec, BytesPerSec: s.BytesPerSec})
	}
	return out
}

// Concurrency is the most operations a run had in flight at once, found
// from its records; PUTPART is left out, as it runs inside MULTIPART. It
// names CSV runs, which do not record --concurrent, in throughput plots.
func Concurrency(recs []s3load.Record) int {
	type edge struct {
		t time.Time
		d int
	}
	var edges []edge
	for _, r := range recs {
		if r.Op == s3load.OpPart {
			continue
		}
		edges = append(edges, edge{r.Start, 1}, edge{r.Start.Add(r.Dur), -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.d - b.d // an end before a start at the same instant
	})
	cur, peak := 0, 0
	for _, e := range edges {
		cur += e.d
		peak = max(peak, cur)
	}
	return peak
}
