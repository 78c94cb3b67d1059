package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wolke-cloud/wolke/bench/procstat"
	"github.com/wolke-cloud/wolke/bench/report"
	"github.com/wolke-cloud/wolke/bench/s3load"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure an S3 endpoint (warp-style) and compare runs",
	}
	cmd.AddCommand(benchS3Cmd(), benchCompareCmd(), benchReportCmd(), benchPlotCmd(), benchDiskCmd(), benchDurabilityCmd())
	return cmd
}

// benchSize is a byte-count flag: 4096, 64KiB, 10MiB.
type benchSize int64

func (s *benchSize) String() string {
	switch n := int64(*s); {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return fmt.Sprint(n)
	}
}

func (s *benchSize) Type() string { return "size" }
func (s *benchSize) Set(v string) error {
	n, err := s3load.ParseSize(v)
	if err == nil {
		*s = benchSize(n)
	}
	return err
}

func benchS3Cmd() *cobra.Command {
	cfg := s3load.Defaults()
	objSize, partSize := benchSize(cfg.ObjectSize), benchSize(cfg.PartSize)
	var csvPath string
	var asJSON bool
	var serverPID int
	var names []string
	for _, b := range s3load.Benchmarks() {
		names = append(names, string(b))
	}
	cmd := &cobra.Command{
		Use:   "s3 OPERATION --endpoint URL --access-key AK --secret-key SK",
		Short: "Load an S3 endpoint: " + strings.Join(names, ", "),
		Long: `Load any S3 endpoint the way MinIO's warp does, and print per-operation
throughput and latency. OPERATION is one of:

  put        upload new objects
  get        download prepared objects (content is verified)
  stat       HEAD prepared objects
  list       list a prefix of prepared objects per worker
  delete     delete prepared objects until none is left
  mixed      GET/STAT/PUT/DELETE by --*-distrib shares (45/30/15/10)
  multipart  upload objects in --parts parts of --part.size
  versioned  mixed on a versioned bucket: PUT adds versions, GET/STAT/DELETE
             address one version (the bucket must be versioned or new)

Content is pseudo-random and fixed by the key, so every GET checks what it
read against what was written. The run ends after --duration, on stable
throughput with --autoterm, or on Ctrl-C, and then removes its objects
unless --noclear. Only loopback endpoints are loaded unless --allow-remote.`,
		Example: `  wolke bench s3 get --endpoint http://127.0.0.1:9000 --access-key AK --secret-key SK \
      --obj.size 1MiB --concurrent 16 --duration 30s --csv get.csv`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := s3load.ParseBenchmark(args[0])
			if err != nil {
				return err
			}
			cfg.Benchmark, cfg.ObjectSize, cfg.PartSize = b, int64(objSize), int64(partSize)
			if err := cfg.Validate(); err != nil {
				return err
			}
			var csvFile *os.File
			if csvPath != "" {
				if csvFile, err = os.Create(csvPath); err != nil {
					return fmt.Errorf("--csv: %w", err)
				}
				defer csvFile.Close()
			}
			stderr := cmd.ErrOrStderr()
			cfg.Progress, cfg.Interactive = stderr, benchIsTerminal(stderr)
			objects := s3load.FormatBytes(float64(cfg.ObjectSize)) + " objects"
			switch {
			case b == s3load.BenchMultipart:
				objects = fmt.Sprintf("objects of %d × %s parts", cfg.Parts, s3load.FormatBytes(float64(cfg.PartSize)))
			case cfg.RandSize:
				objects = "objects of 1 B to " + s3load.FormatBytes(float64(cfg.ObjectSize))
			}
			fmt.Fprintf(stderr, "%s: %d workers, %s, up to %s against %s/%s\n", b, cfg.Concurrent, objects, cfg.Duration, cfg.Endpoint, cfg.Bucket)
			cpu := newBenchCPU(serverPID)
			cfg.OnMeasure = cpu.sample
			res, err := s3load.Run(cmd.Context(), cfg)
			if err != nil {
				if csvFile != nil {
					csvFile.Close()
					os.Remove(csvPath)
				}
				return err
			}
			if csvFile != nil {
				if err := report.WriteCSV(csvFile, res.Records); err != nil {
					return fmt.Errorf("--csv: %w", err)
				}
				if err := csvFile.Close(); err != nil {
					return fmt.Errorf("--csv: %w", err)
				}
			}
			return benchPrint(cmd.OutOrStdout(), stderr, res, cpu.result(res), asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Endpoint, "endpoint", "", "S3 endpoint URL, e.g. http://127.0.0.1:9000 (path-style)")
	f.StringVar(&cfg.AccessKey, "access-key", "", "access key")
	f.StringVar(&cfg.SecretKey, "secret-key", "", "secret key")
	f.StringVar(&cfg.Region, "region", cfg.Region, "region to sign for")
	f.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow an endpoint that is not loopback")
	f.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "bucket to use, created if missing")
	f.StringVar(&cfg.Prefix, "prefix", "", "prefix for every object key")
	f.BoolVar(&cfg.NoClear, "noclear", false, "keep the objects when done")
	f.Var(&objSize, "obj.size", "object size (4096, 64KiB, 10MiB); with --obj.randsize the largest")
	f.BoolVar(&cfg.RandSize, "obj.randsize", false, "random object sizes, log-uniform between 1 byte and --obj.size")
	f.IntVar(&cfg.Objects, "objects", cfg.Objects, "objects prepared for get, stat, list, delete, mixed and versioned")
	f.IntVar(&cfg.Concurrent, "concurrent", cfg.Concurrent, "operations in flight")
	f.IntVar(&cfg.PrepareConcurrent, "prepare.concurrent", 0, "writers preparing objects (default: --concurrent)")
	f.IntVar(&serverPID, "server-pid", 0, "charge the server process PID's CPU time over the timed phase (Linux /proc)")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to measure")
	f.BoolVar(&cfg.AutoTerm, "autoterm", false, "stop early once throughput is stable")
	f.DurationVar(&cfg.AutoTermDur, "autoterm.dur", cfg.AutoTermDur, "how long throughput must be stable for --autoterm")
	f.Float64Var(&cfg.AutoTermPct, "autoterm.pct", cfg.AutoTermPct, "how stable, in percent, for --autoterm")
	f.Float64Var(&cfg.Distrib.Get, "get-distrib", cfg.Distrib.Get, "mixed, versioned: share of GET")
	f.Float64Var(&cfg.Distrib.Stat, "stat-distrib", cfg.Distrib.Stat, "mixed, versioned: share of STAT")
	f.Float64Var(&cfg.Distrib.Put, "put-distrib", cfg.Distrib.Put, "mixed, versioned: share of PUT")
	f.Float64Var(&cfg.Distrib.Delete, "delete-distrib", cfg.Distrib.Delete, "mixed, versioned: share of DELETE")
	f.IntVar(&cfg.Parts, "parts", cfg.Parts, "multipart: parts per object")
	f.Var(&partSize, "part.size", "multipart: part size")
	f.StringVar(&csvPath, "csv", "", "write every operation to this CSV file")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON instead of a table")
	return cmd
}

// benchIsTerminal tells whether w is a terminal, for in-place progress.
func benchIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func benchPrint(out, stderr io.Writer, res *s3load.Result, cpu *benchCPUResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*s3load.Result
			ServerCPU *benchCPUResult `json:"server_cpu,omitempty"`
		}{res, cpu})
	}
	fmt.Fprintf(stderr, "run ended (%s) after %s", res.EndReason, res.End.Sub(res.Start).Round(time.Millisecond))
	if res.CleanupErr != "" {
		fmt.Fprintf(stderr, "; cleanup failed: %s", res.CleanupErr)
	}
	fmt.Fprintln(stderr)
	if len(res.Ops) == 0 {
		fmt.Fprintln(out, "no operation completed")
		return nil
	}
	if err := report.Table(out, res.Ops); err != nil {
		return err
	}
	if cpu != nil && cpu.Error != "" {
		fmt.Fprintf(stderr, "server (pid %d) CPU not measured: %s\n", cpu.PID, cpu.Error)
	} else if cpu != nil {
		fmt.Fprintf(out, "server (pid %d) CPU over the timed phase: %.2f s (user %.2f, system %.2f); %.3f ms per operation",
			cpu.PID, cpu.Seconds, cpu.User, cpu.System, cpu.MsPerOp)
		if cpu.PerGB > 0 {
			fmt.Fprintf(out, "; %.2f s per GB", cpu.PerGB)
		}
		fmt.Fprintln(out)
	}
	return nil
}

// benchCPU samples a server's CPU time when the timed phase begins and ends.
type benchCPU struct {
	pid           int
	before, after procstat.Usage
	err           error
}

// benchCPUResult is the server's CPU time over the timed phase.
type benchCPUResult struct {
	PID     int     `json:"pid"`
	Seconds float64 `json:"cpu_seconds"`
	User    float64 `json:"user_seconds"`
	System  float64 `json:"system_seconds"`
	// PerGB is CPU seconds per 10^9 bytes moved (0 when no bytes moved).
	PerGB   float64 `json:"cpu_seconds_per_gb,omitempty"`
	MsPerOp float64 `json:"cpu_ms_per_op"`
	Error   string  `json:"error,omitempty"`
}

// newBenchCPU watches pid; pid 0 watches nothing.
func newBenchCPU(pid int) *benchCPU {
	if pid == 0 {
		return nil
	}
	return &benchCPU{pid: pid}
}

func (c *benchCPU) sample(begin bool) {
	if c == nil || c.err != nil {
		return
	}
	u, err := procstat.Read(c.pid)
	switch {
	case err != nil:
		c.err = err
	case begin:
		c.before = u
	default:
		c.after = u
	}
}

// result charges the CPU time to what the run moved: bytes of every
// operation but MULTIPART (its bytes are its PUTPARTs'), and operations but
// PUTPART (each is part of a MULTIPART).
func (c *benchCPU) result(res *s3load.Result) *benchCPUResult {
	if c == nil {
		return nil
	}
	r := &benchCPUResult{PID: c.pid}
	if c.err != nil {
		r.Error = c.err.Error()
		return r
	}
	d := c.after.Sub(c.before)
	r.Seconds, r.User, r.System = d.Total().Seconds(), d.User.Seconds(), d.System.Seconds()
	var bytes int64
	ops := 0
	for _, s := range res.Ops {
		if s.Op != s3load.OpMultipart {
			bytes += s.Bytes
		}
		if s.Op != s3load.OpPart {
			ops += s.Count
		}
	}
	if bytes > 0 {
		r.PerGB = r.Seconds / (float64(bytes) / 1e9)
	}
	if ops > 0 {
		r.MsPerOp = 1000 * r.Seconds / float64(ops)
	}
	return r
}

func benchCompareCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "compare A.csv B.csv",
		Short: "Compare two runs' CSVs: ops/s, MiB/s, p50 and p99 per operation",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := benchReadCSV(args[0])
			if err != nil {
				return err
			}
			b, err := benchReadCSV(args[1])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "A = %s\nB = %s\n\n", args[0], args[1])
			return report.WriteCompare(out, report.Compare(s3load.Summarize(a), s3load.Summarize(b)))
		},
	}
}

func benchReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN.csv...",
		Short: "Print a Markdown table of one or more runs' CSVs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var runs []report.Run
			for _, p := range args {
				recs, err := benchReadCSV(p)
				if err != nil {
					return err
				}
				runs = append(runs, report.Run{Name: filepath.Base(p), Ops: s3load.Summarize(recs)})
			}
			return report.Markdown(cmd.OutOrStdout(), runs)
		},
	}
}

func benchPlotCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "plot RUN.csv... --out DIR",
		Short: "Draw latency-cdf.png and throughput.png (against concurrency) from runs' CSVs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				series []report.Series
				points []report.ThroughputPoint
			)
			for _, p := range args {
				recs, err := benchReadCSV(p)
				if err != nil {
					return err
				}
				name := strings.TrimSuffix(filepath.Base(p), ".csv")
				series = append(series, report.Series{Name: name, Records: recs})
				res := &s3load.Result{Concurrent: report.Concurrency(recs), Ops: s3load.Summarize(recs)}
				points = append(points, report.Points(res, "")...)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			plots := []struct {
				file string
				draw func(io.Writer) error
			}{
				{"latency-cdf.png", func(w io.Writer) error { return report.PlotLatencyCDF(w, "latency", series) }},
				{"throughput.png", func(w io.Writer) error {
					return report.PlotThroughput(w, "throughput against operations in flight", points)
				}},
			}
			for _, pl := range plots {
				if err := benchWriteFile(filepath.Join(dir, pl.file), pl.draw); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(dir, pl.file))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "out", ".", "directory for the PNG files")
	return cmd
}

func benchWriteFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func benchReadCSV(path string) ([]s3load.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := report.ReadCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, errors.New(path + ": no operations")
	}
	return recs, nil
}
