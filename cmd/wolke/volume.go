package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/spf13/cobra"
)

// volumeClient holds the flags every `wolke volume` command shares.
type volumeClient struct {
	endpoint, region  string
	accessKey, secret string
	dir               string
}

func (c *volumeClient) client() (*ec2.Client, error) {
	creds, err := c.credentials()
	if err != nil {
		return nil, err
	}
	return ec2.New(ec2.Options{Region: c.region, BaseEndpoint: aws.String(c.endpoint), Credentials: creds}), nil
}

// credentials are the flags' keys, or the root keys of a wolke dev.
func (c *volumeClient) credentials() (aws.CredentialsProvider, error) {
	ak, sk := c.accessKey, c.secret
	if ak == "" || sk == "" {
		// Fall back to the root credentials `wolke dev` keeps.
		b, err := os.ReadFile(filepath.Join(c.dir, "root-credentials.json"))
		if err != nil {
			return nil, fmt.Errorf("no credentials: set --access-key/--secret-key (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or --dir of a wolke dev: %w", err)
		}
		var cred struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		}
		if err := json.Unmarshal(b, &cred); err != nil {
			return nil, fmt.Errorf("reading %s: %w", c.dir, err)
		}
		ak, sk = cred.AccessKey, cred.SecretKey
	}
	return credentials.NewStaticCredentialsProvider(ak, sk, ""), nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func volumeCmd() *cobra.Command {
	vc := &volumeClient{}
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage block volumes and snapshots (the EC2 volume API of a running gateway)",
		Long: `Manage block volumes through the EC2 API of a Wolke gateway. Volumes are
served over NBD: "wolke volume attach VOL" prints the URI for qemu, nbdinfo,
nbdcopy, nbdfuse or fio.

Credentials come from --access-key/--secret-key, AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, or the root credentials in --dir of a wolke dev.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&vc.endpoint, "endpoint", envOr("WOLKE_ENDPOINT", "http://127.0.0.1:9000"), "gateway URL (env WOLKE_ENDPOINT)")
	pf.StringVar(&vc.region, "region", envOr("AWS_DEFAULT_REGION", "us-east-1"), "region (env AWS_DEFAULT_REGION)")
	pf.StringVar(&vc.accessKey, "access-key", os.Getenv("AWS_ACCESS_KEY_ID"), "access key (env AWS_ACCESS_KEY_ID)")
	pf.StringVar(&vc.secret, "secret-key", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret key (env AWS_SECRET_ACCESS_KEY)")
	pf.StringVar(&vc.dir, "dir", "./wolke-data", "data directory of a wolke dev, for its root credentials")
	cmd.AddCommand(volumeCreateCmd(vc), volumeLsCmd(vc), volumeRmCmd(vc), volumeResizeCmd(vc),
		volumeSnapshotCmd(vc), volumeSnapshotsCmd(vc), volumeChangesCmd(vc), volumeAttachCmd(vc))
	return cmd
}

func volumeCreateCmd(vc *volumeClient) *cobra.Command {
	var size int32
	var zone, snap string
	var multi bool
	var vtype string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a volume and print its id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli, err := vc.client()
			if err != nil {
				return err
			}
			in := &ec2.CreateVolumeInput{MultiAttachEnabled: aws.Bool(multi), VolumeType: types.VolumeType(vtype)}
			if zone != "" {
				in.AvailabilityZone = aws.String(zone)
			}
			if size > 0 {
				in.Size = aws.Int32(size)
			}
			if snap != "" {
				in.SnapshotId = aws.String(snap)
			}
			out, err := cli.CreateVolume(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), aws.ToString(out.VolumeId))
			return nil
		},
	}
	f := cmd.Flags()
	f.Int32Var(&size, "size", 0, "size in GiB (default: the snapshot's)")
	f.StringVar(&zone, "zone", "", "availability zone (default: the first)")
	f.StringVar(&snap, "snapshot", "", "create from this snapshot")
	f.BoolVar(&multi, "multi-attach", false, "allow several writers at once")
	f.StringVar(&vtype, "type", "gp2", `volume type: gp2, gp3, io1, io2 or standard keep extents on 3 replicas;
st1 and sc1 (for large sequential I/O) store extents written whole erasure coded`)
	return cmd
}

func volumeLsCmd(vc *volumeClient) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List volumes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli, err := vc.client()
			if err != nil {
				return err
			}
			out, err := cli.DescribeVolumes(cmd.Context(), &ec2.DescribeVolumesInput{})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VOLUME\tSIZE\tZONE\tSTATE\tSNAPSHOT\tMULTI-ATTACH")
			for _, v := range out.Volumes {
				fmt.Fprintf(tw, "%s\t%d GiB\t%s\t%s\t%s\t%v\n", aws.ToString(v.VolumeId), aws.ToInt32(v.Size),
					aws.ToString(v.AvailabilityZone), v.State, aws.ToString(v.SnapshotId), aws.ToBool(v.MultiAttachEnabled))
			}
			return tw.Flush()
		},
	}
}

func volumeRmCmd(vc *volumeClient) *cobra.Command {
	return &cobra.Command{
		Use:   "rm VOLUME|SNAPSHOT...",
		Short: "Delete volumes or snapshots",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cli, err := vc.client()
			if err != nil {
				return err
			}
			for _, id := range args {
				if len(id) > 5 && id[:5] == "snap-" {
					_, err = cli.DeleteSnapshot(cmd.Context(), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)})
				} else {
					_, err = cli.DeleteVolume(cmd.Context(), &ec2.DeleteVolumeInput{VolumeId: aws.String(id)})
				}
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func volumeResizeCmd(vc *volumeClient) *cobra.Command {
	var size int32
	cmd := &cobra.Command{
		Use:   "resize VOLUME --size GiB",
		Short: "Grow a volume (new NBD connections see the new size)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cli, err := vc.client()
			if err != nil {
				return err
			}
			_, err = cli.ModifyVolume(cmd.Context(), &ec2.ModifyVolumeInput{VolumeId: aws.String(args[0]), Size: aws.Int32(size)})
			return err
		},
	}
	cmd.Flags().Int32Var(&size, "size", 0, "new size in GiB")
	_ = cmd.MarkFlagRequired("size")
	return cmd
}

func volumeSnapshotCmd(vc *volumeClient) *cobra.Command {
	var desc string
	cmd := &cobra.Command{
		Use:   "snapshot VOLUME",
		Short: "Snapshot a volume and print the snapshot id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cli, err := vc.client()
			if err != nil {
				return err
			}
			out, err := cli.CreateSnapshot(cmd.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(args[0]), Description: aws.String(desc)})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), aws.ToString(out.SnapshotId))
			return nil
		},
	}
	cmd.Flags().StringVar(&desc, "description", "", "snapshot description")
	return cmd
}

func volumeSnapshotsCmd(vc *volumeClient) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshots",
		Short: "List snapshots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli, err := vc.client()
			if err != nil {
				return err
			}
			out, err := cli.DescribeSnapshots(cmd.Context(), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SNAPSHOT\tVOLUME\tSIZE\tSTARTED\tDESCRIPTION")
			for _, s := range out.Snapshots {
				fmt.Fprintf(tw, "%s\t%s\t%d GiB\t%s\t%s\n", aws.ToString(s.SnapshotId), aws.ToString(s.VolumeId),
					aws.ToInt32(s.VolumeSize), aws.ToTime(s.StartTime).Format("2006-01-02 15:04:05"), aws.ToString(s.Description))
			}
			return tw.Flush()
		},
	}
}

func volumeAttachCmd(vc *volumeClient) *cobra.Command {
	var nbdAddr string
	cmd := &cobra.Command{
		Use:   "attach VOLUME|SNAPSHOT",
		Short: "Print the NBD URI of a volume (snapshots attach read-only)",
		Long: `Print the NBD URI of a volume. The first writable NBD connection takes the
volume's writer lease; a second writer is refused unless the volume is
multi-attach. Use the URI with qemu-io/qemu-img (-f raw), nbdinfo, nbdcopy,
nbdfuse or fio --ioengine=nbd.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cli, err := vc.client()
			if err != nil {
				return err
			}
			id := args[0]
			if len(id) > 5 && id[:5] == "snap-" {
				_, err = cli.DescribeSnapshots(cmd.Context(), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
			} else {
				_, err = cli.DescribeVolumes(cmd.Context(), &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "nbd://%s/%s\n", nbdAddr, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&nbdAddr, "nbd-addr", "127.0.0.1:10809", "address of the NBD server (wolke dev --nbd-addr)")
	return cmd
}
