// Package report turns load-generator output into tables: the text table a
// run ends with, Markdown for documents, CSV of every operation, and the
// comparison of two runs.
package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/wolke-cloud/wolke/bench/s3load"
)

// csvHeader is the first line of an operations CSV.
func csvHeader() []string {
	return []string{"op", "start", "duration_ns", "ttfb_ns", "bytes", "error"}
}

// WriteCSV writes one line per operation.
func WriteCSV(w io.Writer, recs []s3load.Record) error {
	cw := csv.NewWriter(w)
	cw.Write(csvHeader())
	for _, r := range recs {
		cw.Write([]string{
			string(r.Op), r.Start.UTC().Format(time.RFC3339Nano),
			strconv.FormatInt(int64(r.Dur), 10), strconv.FormatInt(int64(r.TTFB), 10),
			strconv.FormatInt(r.Bytes, 10), r.Err,
		})
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV reads what WriteCSV wrote; errors name the line.
func ReadCSV(r io.Reader) ([]s3load.Record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(csvHeader())
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: want a header line " + fmt.Sprint(csvHeader()))
	}
	if err != nil {
		return nil, err
	}
	if want := csvHeader(); !slices.Equal(head, want) {
		return nil, fmt.Errorf("line 1: header %v, want %v", head, want)
	}
	var recs []s3load.Record
	for line := 2; ; line++ {
		f, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return nil, err
		}
		rec, err := parseRecord(f)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		recs = append(recs, rec)
	}
}

func parseRecord(f []string) (s3load.Record, error) {
	rec := s3load.Record{Op: s3load.Op(f[0]), Err: f[5]}
	if rec.Op == "" {
		return rec, errors.New("empty op")
	}
	var err error
	if rec.Start, err = time.Parse(time.RFC3339Nano, f[1]); err != nil {
		return rec, fmt.Errorf("start %q: want an RFC 3339 time", f[1])
	}
	nums := []struct {
		name string
		s    string
		dst  *int64
	}{{"duration_ns", f[2], (*int64)(&rec.Dur)}, {"ttfb_ns", f[3], (*int64)(&rec.TTFB)}, {"bytes", f[4], &rec.Bytes}}
	for _, n := range nums {
		v, err := strconv.ParseInt(n.s, 10, 64)
		if err != nil || v < 0 {
			return rec, fmt.Errorf("%s %q: want a count of 0 or more", n.name, n.s)
		}
		*n.dst = v
	}
	return rec, nil
}
