package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/wolke-cloud/wolke/cluster"
)

func blockCmd() *cobra.Command {
	var (
		rf          roleFlags
		role        cluster.BlockRole
		wcache      string
		wcacheTotal string
		volEC       string
	)
	cmd := &cobra.Command{
		Use:   "block",
		Short: "Run the block (EBS) server: volumes over NBD",
		Long: `Run one block server: it serves the cluster's volumes and snapshots over NBD
(nbd://HOST:PORT/vol-...), with their extents on the chunk servers it finds
through etcd. Volumes are created, listed and deleted through the EC2 API of
the gateway (aws ec2 create-volume --endpoint-url ...).

Several block servers may serve one cluster. A volume has one writer at a
time: its attach lease in meta. Opening it writable on a second server is
refused until the first client disconnects; after a crash (kill -9, lost
node) the lease runs out within --lease-ttl and the volume can be attached
again. Snapshots (snap-...) and read-only opens need no lease. The volume
garbage collector runs on one server, elected through etcd.

On SIGTERM or SIGINT the server stops accepting, finishes the requests in
flight, flushes every attached volume and releases its lease.

NBD STARTTLS is offered with a certificate (--tls-cert/--tls-key, clients
connect with nbds://) and/or TLS-PSK keys (--nbd-tls-psk); --nbd-tls-required
refuses clients that do not start TLS.`,
		Example: `  wolke block --cluster prod --etcd 10.0.0.5:2379 --addr 0.0.0.0:10809
  wolke block --cluster prod --addr :10809 --nbd-tls-psk /etc/wolke/keys.psk --nbd-tls-required
  wolke block --cluster prod --addr :10809 --tls-cert nbd.pem --tls-key nbd.key --metrics-addr :9110

  # then, with a volume made through the gateway:
  qemu-io -f raw -c 'write -P 0x5a 0 4M' -c flush nbd://10.0.0.7:10809/vol-0123456789abcdef0
  nbdinfo --list nbd://10.0.0.7:10809`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, eps, err := rf.setup()
			if err != nil {
				return err
			}
			if (role.TLSCert == "") != (role.TLSKey == "") {
				return fmt.Errorf("--tls-cert and --tls-key go together")
			}
			if role.NBDTLS.Required && role.TLSCert == "" && role.NBDTLS.PSKFile == "" {
				return fmt.Errorf("--nbd-tls-required needs --tls-cert/--tls-key or --nbd-tls-psk")
			}
			if role.LeaseTTL < 0 || (role.LeaseTTL > 0 && role.LeaseTTL < time.Second) {
				return fmt.Errorf("--lease-ttl must be at least 1s")
			}
			if role.DataShards, role.ParityShards, err = parseBlockEC(volEC); err != nil {
				return err
			}
			if role.WriteCache, err = parseWriteCache("write-cache", wcache); err != nil {
				return err
			}
			if role.WriteCacheTotal, err = parseWriteCache("write-cache-total", wcacheTotal); err != nil {
				return err
			}
			if role.ID == "" {
				host, _ := os.Hostname()
				role.ID = host + "/" + role.Addr
			}
			role.Cluster, role.Etcd, role.Logger, role.Registry = rf.cluster, eps, log, prometheus.NewRegistry()
			out := cmd.OutOrStdout()
			role.Serving = func(addr string) { printBlockServing(out, addr, &role) }
			return cluster.RunBlock(cmd.Context(), role)
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&role.Addr, "addr", "127.0.0.1:10809", "NBD listen address")
	f.StringVar(&role.ID, "id", "", "server id in the garbage collector's election (default HOSTNAME/ADDR)")
	f.StringVar(&role.TLSCert, "tls-cert", "", "offer NBD STARTTLS with this PEM certificate (needs --tls-key)")
	f.StringVar(&role.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&role.NBDTLS.PSKFile, "nbd-tls-psk", "", `offer NBD STARTTLS with TLS-PSK keys from FILE ("identity:hexkey" lines, psktool's keys.psk)`)
	f.BoolVar(&role.NBDTLS.Required, "nbd-tls-required", false, "refuse NBD clients that do not start TLS (needs --tls-cert or --nbd-tls-psk)")
	f.DurationVar(&role.LeaseTTL, "lease-ttl", defaultLeaseTTL, "writer lease of an attached volume: how long a crashed server keeps it locked")
	f.StringVar(&role.MetricsAddr, "metrics-addr", "", `serve Prometheus metrics at http://ADDR/_wolke/metrics ("" none)`)
	f.StringVar(&wcache, "write-cache", defaultWriteCache, writeCacheHelp)
	f.StringVar(&wcacheTotal, "write-cache-total", defaultWriteCacheTotal, writeCacheTotalHelp)
	f.StringVar(&volEC, "volume-ec", "off", `how extents written whole of st1 and sc1 volumes are stored: "k+m" erasure
coded shards on k+m chunk servers (4+2 survives two losses, as 3 replicas do), or "off" (3 replicas)`)
	return cmd
}

// defaultLeaseTTL is volume.Config's default writer lease.
const defaultLeaseTTL = 15 * time.Second

// printBlockServing prints the startup line: where clients find volumes.
func printBlockServing(w io.Writer, addr string, r *cluster.BlockRole) {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "HOST"
	}
	hp := net.JoinHostPort(host, port)
	switch {
	case r.NBDTLS.Required:
		fmt.Fprintf(w, "wolke block serving volumes at nbds://%s/vol-... (TLS required)\n", hp)
	case r.TLSCert != "" || r.NBDTLS.PSKFile != "":
		fmt.Fprintf(w, "wolke block serving volumes at nbd://%s/vol-... and nbds://%s/vol-...\n", hp, hp)
	default:
		fmt.Fprintf(w, "wolke block serving volumes at nbd://%s/vol-...\n", hp)
	}
	if r.NBDTLS.PSKFile != "" {
		fmt.Fprintf(w, "  TLS-PSK: nbdinfo 'nbds://IDENTITY@%s/VOL?tls-psk-file=%s'\n", hp, r.NBDTLS.PSKFile)
	}
}

// parseBlockEC reads wolke block's --volume-ec: "off" or "k+m".
func parseBlockEC(s string) (int, int, error) {
	if s == "off" || s == "" {
		return 0, 0, nil
	}
	k, m, err := parseVolumeEC(s)
	if err != nil || k <= 0 {
		return 0, 0, fmt.Errorf("--volume-ec %q: want DATA+PARITY (e.g. 4+2) or off", s)
	}
	return k, m, nil
}
