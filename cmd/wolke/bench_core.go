package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wolke-cloud/wolke/bench/diskbench"
	"github.com/wolke-cloud/wolke/bench/durability"
	"github.com/wolke-cloud/wolke/bench/s3load"
	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/chunk/store"
)

// benchDiskSlack is room on the disk file beyond the data: superblocks and
// the free map's granularity.
const benchDiskSlack = 64 << 20

func benchDiskCmd() *cobra.Command {
	var (
		file       string
		size       = benchSize(1 << 30)
		chunk      = benchSize(1 << 20)
		concurrent int
		keep       bool
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "disk --file F --size 1GiB",
		Short: "Measure one disk through the chunk store: write, then read, --size in --chunk chunks",
		Long: `Create the file F as a disk (it must not exist), format a chunk store on it
(index in F.index), write --size bytes in --chunk chunks with the store's Put
(each durable on return: O_DIRECT write, sync, index commit), read them back
with Get (every 4 KiB block's CRC32C verified), and print MB/s (10^6 bytes,
as fio prints). Compare with fio on the same file system:

  fio --name=seqwrite --filename=G --direct=1 --rw=write --bs=1M --size=1G --ioengine=psync

F and F.index are removed afterwards unless --keep.`,
		Example: `  wolke bench disk --file /var/tmp/bench.img --size 2GiB --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("--file is required")
			}
			cfg := diskbench.Config{Size: int64(size), ChunkSize: int64(chunk), Concurrent: concurrent, Seed: 1}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if cfg.ChunkSize > store.MaxChunkSize {
				return fmt.Errorf("--chunk %s: the store takes chunks of up to %d bytes", chunk.String(), store.MaxChunkSize)
			}
			// Whole 4 KiB blocks per chunk, plus slack.
			per := (cfg.ChunkSize + disk.BlockSize - 1) / disk.BlockSize * disk.BlockSize
			diskSize := cfg.Size/cfg.ChunkSize*per + benchDiskSlack
			d, err := disk.CreateFile(file, diskSize)
			if err != nil {
				return err
			}
			index := file + ".index"
			if !keep {
				defer os.RemoveAll(index)
				defer os.Remove(file)
			}
			direct := d.Direct()
			ctx := cmd.Context()
			s, err := store.Format(ctx, d, index, "bench", "bench-disk", store.Options{})
			if err != nil {
				d.Close()
				return err
			}
			res, err := diskbench.Run(ctx, s, cfg)
			if cerr := s.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					File   string `json:"file"`
					Direct bool   `json:"o_direct"`
					diskbench.Result
				}{file, direct, res})
			}
			mode := "O_DIRECT"
			if !direct {
				mode = "page cache (no O_DIRECT on this file system)"
			}
			fmt.Fprintf(out, "chunk store on %s (%s), %s chunks, %d in flight\n", file, mode, chunk.String(), res.Concurrent)
			for _, p := range []struct {
				name string
				ph   diskbench.Phase
			}{{"write", res.Write}, {"read", res.Read}} {
				fmt.Fprintf(out, "%-5s %6d chunks %10s in %8s: %8.1f MB/s (%.1f MiB/s)\n", p.name, p.ph.Chunks,
					s3load.FormatBytes(float64(p.ph.Bytes)), p.ph.Time.Round(time.Millisecond), p.ph.MBps, p.ph.MiBps)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "file", "", "disk file to create (must not exist)")
	f.Var(&size, "size", "bytes to write and read back")
	f.Var(&chunk, "chunk", "chunk size")
	f.IntVar(&concurrent, "concurrent", 1, "Puts (then Gets) in flight")
	f.BoolVar(&keep, "keep", false, "keep the disk file and its index")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func benchDurabilityCmd() *cobra.Command {
	p := durability.Params{Disks: 600, AFR: 0.02, RepairMBps: 100, Years: 10}
	var (
		ec       string
		diskSize string
		trials   int
		seed     uint64
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "durability --disks N --afr 0.02 --repair-mbps X --disk-size 8TB --ec 4+2",
		Short: "Estimate the chance of losing data: closed-form MTTDL next to a Monte Carlo simulation",
		Long: `Estimate how likely a cluster is to lose data. The disks form disjoint
placement groups of k+m; a group loses data when m+1 of its disks are down
at once. Disks fail at the annual rate --afr and are rebuilt in
--disk-size / --repair-mbps. Prints the closed-form (Markov) MTTDL, the
probability of losing data within --years, the expected loss per year and
the durability in nines, next to the same figures from --trials simulated
histories (--trials 0 skips the simulation).`,
		Example: `  wolke bench durability --disks 600 --afr 0.02 --repair-mbps 100 --disk-size 8TB --ec 4+2 --years 10 --trials 2000 --seed 1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if p.DataShards, p.ParityShards, err = parseEC(ec); err != nil {
				return err
			}
			if p.DiskSize, err = s3load.ParseSize(diskSize); err != nil {
				return fmt.Errorf("--disk-size: %w", err)
			}
			if trials < 0 {
				return fmt.Errorf("--trials %d: want 0 or more", trials)
			}
			est, err := durability.MTTDL(p)
			if err != nil {
				return err
			}
			if seed == 0 {
				seed = rand.Uint64()
			}
			var sim *durability.Simulation
			if trials > 0 {
				s, err := durability.Simulate(cmd.Context(), p, trials, seed)
				if err != nil {
					return err
				}
				sim = &s
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Params     durability.Params      `json:"params"`
					Seed       uint64                 `json:"seed"`
					ClosedForm durability.Estimate    `json:"closed_form"`
					Simulation *durability.Simulation `json:"simulation,omitempty"`
				}{p, seed, est, sim})
			}
			return durability.WriteMarkdown(out, p, est, sim, seed)
		},
	}
	f := cmd.Flags()
	f.IntVar(&p.Disks, "disks", p.Disks, "disks in the cluster")
	f.Float64Var(&p.AFR, "afr", p.AFR, "annual failure rate of a disk (0.02 = 2 %)")
	f.Float64Var(&p.RepairMBps, "repair-mbps", p.RepairMBps, "rebuild rate of one failed disk, MB/s")
	f.StringVar(&diskSize, "disk-size", "8TB", "disk size (8TB, 16TiB)")
	f.StringVar(&ec, "ec", "4+2", "erasure code: data+parity shards")
	f.Float64Var(&p.Years, "years", p.Years, "span for the probability of loss")
	f.IntVar(&trials, "trials", 1000, "simulated histories (0: closed form only)")
	f.Uint64Var(&seed, "seed", 0, "simulation seed, for repeatable runs (0: random, printed)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
