package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/spf13/cobra"
)

func volumeChangesCmd(vc *volumeClient) *cobra.Command {
	return &cobra.Command{
		Use:   "changes [FIRST-SNAPSHOT] SNAPSHOT",
		Short: "List the byte ranges that differ between two snapshots",
		Long: `List the byte ranges of a volume that differ between two of its snapshots
(the blocks an incremental backup must copy), through the EBS direct API
ListChangedBlocks. With one snapshot, list the ranges that hold data.
Ranges are whole 512 KiB blocks; a write marks every block of the 1 MiB
extents it touched.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			creds, err := vc.credentials()
			if err != nil {
				return err
			}
			cli := ebs.New(ebs.Options{Region: vc.region, BaseEndpoint: aws.String(vc.endpoint), Credentials: creds})
			in := &ebs.ListChangedBlocksInput{SecondSnapshotId: aws.String(args[len(args)-1])}
			if len(args) == 2 {
				in.FirstSnapshotId = aws.String(args[0])
			}
			var ranges changedRanges
			p := ebs.NewListChangedBlocksPaginator(cli, in)
			for p.HasMorePages() {
				out, err := p.NextPage(cmd.Context())
				if err != nil {
					return err
				}
				ranges.size = aws.ToInt64(out.VolumeSize) << 30
				for _, b := range out.ChangedBlocks {
					ranges.add(int64(aws.ToInt32(b.BlockIndex)), int64(aws.ToInt32(out.BlockSize)))
				}
			}
			return ranges.print(cmd.OutOrStdout())
		},
	}
}

// changedRanges merges changed blocks, which come in index order, into
// byte ranges.
type changedRanges struct {
	r    [][2]int64 // offset, length
	size int64      // the volume's, for the total line
}

func (c *changedRanges) add(index, blockSize int64) {
	off := index * blockSize
	if n := len(c.r); n > 0 && c.r[n-1][0]+c.r[n-1][1] == off {
		c.r[n-1][1] += blockSize
		return
	}
	c.r = append(c.r, [2]int64{off, blockSize})
}

func (c *changedRanges) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OFFSET\tLENGTH")
	var total int64
	for _, r := range c.r {
		fmt.Fprintf(tw, "%d\t%d\n", r[0], r[1])
		total += r[1]
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d ranges, %d MiB of a %d GiB volume\n", len(c.r), total>>20, c.size>>30)
	return err
}
