package ebsapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/wolke-cloud/wolke/cluster"
)

func clients(c *cluster.Cluster) (*ec2.Client, *ebs.Client) {
	root := c.Root()
	creds := credentials.NewStaticCredentialsProvider(root.AccessKey, root.SecretKey, "")
	return ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(c.S3Endpoint()), Credentials: creds}),
		ebs.New(ebs.Options{Region: "us-east-1", BaseEndpoint: aws.String(c.S3Endpoint()), Credentials: creds})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestDirectAPIs writes a volume, snapshots it, changes it, snapshots it
// again, and reads both through the EBS direct APIs with the AWS SDK.
func TestDirectAPIs(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	ctx := context.Background()
	ec, eb := clients(c)
	vol, err := ec.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("z1"), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := c.Volumes().Open(ctx, aws.ToString(vol.VolumeId), false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	write := func(off int64, b byte, n int) {
		t.Helper()
		if err := x.WriteAt(ctx, bytes.Repeat([]byte{b}, n), off, false); err != nil {
			t.Fatal(err)
		}
	}
	// Snapshot 1: extents 0..59 hold 4 KiB each (120 blocks), extent 100
	// holds 8 KiB at its middle (block 201).
	for i := range int64(60) {
		write(i<<20, byte(i+1), 4096)
	}
	write(100<<20+512<<10, 0xee, 8192)
	snap1, err := ec.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	// Snapshot 2: extent 5 rewritten, extent 200 new, extent 100 trimmed.
	write(5<<20+4096, 0x55, 4096)
	write(200<<20, 0x77, 4096)
	if err := x.Trim(ctx, 100<<20, 1<<20); err != nil {
		t.Fatal(err)
	}
	snap2, err := ec.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := snap1.SnapshotId, snap2.SnapshotId

	// ListSnapshotBlocks, in pages of 100.
	var blocks []int32
	tokens := map[int32]string{}
	p := ebs.NewListSnapshotBlocksPaginator(eb, &ebs.ListSnapshotBlocksInput{SnapshotId: s1, MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.BlockSize) != 512<<10 || aws.ToInt64(out.VolumeSize) != 1 || out.ExpiryTime == nil {
			t.Fatalf("listing: block size %d, volume size %d", aws.ToInt32(out.BlockSize), aws.ToInt64(out.VolumeSize))
		}
		for _, b := range out.Blocks {
			blocks = append(blocks, aws.ToInt32(b.BlockIndex))
			tokens[aws.ToInt32(b.BlockIndex)] = aws.ToString(b.BlockToken)
		}
	}
	if len(blocks) != 122 || blocks[0] != 0 || blocks[119] != 119 || blocks[120] != 200 || blocks[121] != 201 {
		t.Fatalf("snapshot 1 blocks %v", blocks)
	}

	// ListChangedBlocks between the two.
	ch, err := eb.ListChangedBlocks(ctx, &ebs.ListChangedBlocksInput{FirstSnapshotId: s1, SecondSnapshotId: s2})
	if err != nil {
		t.Fatal(err)
	}
	var changed []int32
	for _, b := range ch.ChangedBlocks {
		i := aws.ToInt32(b.BlockIndex)
		changed = append(changed, i)
		first, second := aws.ToString(b.FirstBlockToken), aws.ToString(b.SecondBlockToken)
		switch {
		case i == 10 || i == 11:
			if first != tokens[i] || second == "" || second == first {
				t.Errorf("block %d: tokens %q %q", i, first, second)
			}
		case i == 200 || i == 201:
			if first != tokens[i] || second != "" {
				t.Errorf("trimmed block %d: tokens %q %q", i, first, second)
			}
		case i == 400 || i == 401:
			if first != "" || second == "" {
				t.Errorf("new block %d: tokens %q %q", i, first, second)
			}
		}
	}
	if want := []int32{10, 11, 200, 201, 400, 401}; !slices.Equal(changed, want) || ch.NextToken != nil {
		t.Fatalf("changed blocks %v, want %v", changed, want)
	}

	// GetSnapshotBlock: the data and its SHA-256.
	get := func(snap *string, index int32, token string) ([]byte, error) {
		out, err := eb.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{SnapshotId: snap, BlockIndex: aws.Int32(index), BlockToken: aws.String(token)})
		if err != nil {
			return nil, err
		}
		defer out.BlockData.Close()
		data, err := io.ReadAll(out.BlockData)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		if aws.ToString(out.Checksum) != base64.StdEncoding.EncodeToString(sum[:]) || out.ChecksumAlgorithm != "SHA256" ||
			aws.ToInt32(out.DataLength) != int32(len(data)) {
			t.Errorf("block %d: checksum %s (%s), length %d", index, aws.ToString(out.Checksum), out.ChecksumAlgorithm, aws.ToInt32(out.DataLength))
		}
		return data, nil
	}
	data, err := get(s1, 201, tokens[201])
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 512<<10)
	copy(want, bytes.Repeat([]byte{0xee}, 8192))
	if !bytes.Equal(data, want) {
		t.Fatal("block 201 of snapshot 1 reads back wrong")
	}
	second := map[int32]string{}
	for _, b := range ch.ChangedBlocks {
		second[aws.ToInt32(b.BlockIndex)] = aws.ToString(b.SecondBlockToken)
	}
	data, err = get(s2, 10, second[10])
	if err != nil {
		t.Fatal(err)
	}
	want = make([]byte, 512<<10)
	copy(want, bytes.Repeat([]byte{6}, 4096))
	copy(want[4096:], bytes.Repeat([]byte{0x55}, 4096))
	if !bytes.Equal(data, want) {
		t.Fatal("block 10 of snapshot 2 reads back wrong")
	}

	// Bad input: named errors, nothing read.
	for _, tc := range []struct {
		name, want string
		call       func() error
	}{
		{"unknown snapshot", "ResourceNotFoundException", func() error {
			_, err := eb.ListSnapshotBlocks(ctx, &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String("snap-0123456789abcdef0")})
			return err
		}},
		{"token of another block", "ValidationException", func() error {
			_, err := get(s1, 1, tokens[0])
			return err
		}},
		{"block holding nothing", "ValidationException", func() error {
			_, err := get(s1, 150, tokens[0])
			return err
		}},
		{"block past the end", "ValidationException", func() error {
			_, err := get(s1, 2048, tokens[0])
			return err
		}},
		{"bad page token", "ValidationException", func() error {
			_, err := eb.ListChangedBlocks(ctx, &ebs.ListChangedBlocksInput{SecondSnapshotId: s2, NextToken: aws.String("AAAA")})
			return err
		}},
		{"write side", "UnsupportedOperation", func() error {
			_, err := eb.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1)})
			return err
		}},
	} {
		if err := tc.call(); code(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}

	// Lineage: a snapshot of a volume made from snapshot 1 compares with
	// it; a snapshot of an unrelated volume does not.
	clone, err := ec.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("z1"), SnapshotId: s1})
	if err != nil {
		t.Fatal(err)
	}
	cx, _, err := c.Volumes().Open(ctx, aws.ToString(clone.VolumeId), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := cx.WriteAt(ctx, bytes.Repeat([]byte{9}, 4096), 7<<20, false); err != nil {
		t.Fatal(err)
	}
	cx.Close()
	s3, err := ec.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: clone.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	ch3, err := eb.ListChangedBlocks(ctx, &ebs.ListChangedBlocksInput{FirstSnapshotId: s1, SecondSnapshotId: s3.SnapshotId})
	if err != nil || len(ch3.ChangedBlocks) != 2 || aws.ToInt32(ch3.ChangedBlocks[0].BlockIndex) != 14 {
		t.Fatalf("snapshot 1 against a snapshot of its clone: %v", err)
	}
	other, err := ec.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("z2"), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	s4, err := ec.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: other.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.ListChangedBlocks(ctx, &ebs.ListChangedBlocksInput{FirstSnapshotId: s4.SnapshotId, SecondSnapshotId: s3.SnapshotId}); code(err) != "ValidationException" {
		t.Fatalf("unrelated snapshots: %v, want ValidationException", err)
	}

	// A page token past the end (of any size) lists nothing.
	far := base64.StdEncoding.EncodeToString([]byte("wolke-ebs:4611686018427387904"))
	if out, err := eb.ListChangedBlocks(ctx, &ebs.ListChangedBlocksInput{SecondSnapshotId: s2, NextToken: aws.String(far)}); err != nil || len(out.ChangedBlocks) != 0 {
		t.Fatalf("a page token past the end: %v", err)
	}

	// Without a first snapshot: every block of the second.
	all, err := eb.ListChangedBlocks(ctx, &ebs.ListChangedBlocksInput{SecondSnapshotId: s2, StartingBlockIndex: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(all.ChangedBlocks); n != 22 || aws.ToInt32(all.ChangedBlocks[0].BlockIndex) != 100 {
		t.Fatalf("snapshot 2 from block 100: %d blocks", n)
	}
}
