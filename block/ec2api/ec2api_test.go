package ec2api_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/wolke-cloud/wolke/cluster"
)

// ec2Client is an AWS SDK EC2 client of c's gateway, with root's keys.
func ec2Client(c *cluster.Cluster) *ec2.Client {
	root := c.Root()
	return ec2.New(ec2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(c.S3Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider(root.AccessKey, root.SecretKey, ""),
	})
}

// TestEC2 drives the volume actions through the gateway with the AWS SDK.
func TestEC2(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	ctx := context.Background()
	cli := ec2Client(c)
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return ""
	}

	zones, err := cli.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, z := range zones.AvailabilityZones {
		names = append(names, aws.ToString(z.ZoneName))
	}
	if len(names) != 3 || names[0] != "z1" {
		t.Fatalf("zones %v, want the 3 chunk zone labels", names)
	}

	vol, err := cli.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("z2"), Size: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(vol.VolumeId)
	if aws.ToInt32(vol.Size) != 2 || vol.State != types.VolumeStateAvailable || aws.ToString(vol.AvailabilityZone) != "z2" {
		t.Errorf("created %+v", vol)
	}
	errCases := []struct {
		name string
		call func() error
		code string
	}{
		{"bad zone", func() error {
			_, err := cli.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("nowhere"), Size: aws.Int32(1)})
			return err
		}, "InvalidParameterValue"},
		{"missing volume", func() error {
			_, err := cli.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{"vol-0123456789abcdef0"}})
			return err
		}, "InvalidVolume.NotFound"},
		{"shrink", func() error {
			_, err := cli.ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(1)})
			return err
		}, "InvalidParameterValue"},
		{"missing snapshot", func() error {
			_, err := cli.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String("snap-0123456789abcdef0")})
			return err
		}, "InvalidSnapshot.NotFound"},
		{"bad volume type", func() error {
			_, err := cli.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("z1"), Size: aws.Int32(1), VolumeType: "gp9"})
			return err
		}, "InvalidParameterValue"},
		{"bad new volume type", func() error {
			_, err := cli.ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: aws.String(id), VolumeType: "tape"})
			return err
		}, "InvalidParameterValue"},
		{"unknown filter", func() error {
			_, err := cli.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("nope"), Values: []string{"x"}}}})
			return err
		}, "InvalidParameterValue"},
	}
	for _, c := range errCases {
		if got := code(c.call()); got != c.code {
			t.Errorf("%s: code %q, want %q", c.name, got, c.code)
		}
	}

	if _, err := cli.ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: aws.String(id), Size: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	snap, err := cli.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(id), Description: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	sid := aws.ToString(snap.SnapshotId)
	clone, err := cli.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("z1"), SnapshotId: aws.String(sid)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(clone.Size) != 3 || aws.ToString(clone.SnapshotId) != sid {
		t.Errorf("clone %+v", clone)
	}
	dv, err := cli.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("volume-id"), Values: []string{id}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dv.Volumes) != 1 || aws.ToInt32(dv.Volumes[0].Size) != 3 {
		t.Errorf("describe by filter: %+v", dv.Volumes)
	}
	all, err := cli.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil || len(all.Volumes) != 2 {
		t.Fatalf("describe all: %d volumes, %v", len(all.Volumes), err)
	}
	ds, err := cli.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil || len(ds.Snapshots) != 1 || aws.ToString(ds.Snapshots[0].Description) != "first" {
		t.Fatalf("describe snapshots: %+v, %v", ds, err)
	}
	if _, err := cli.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(sid)}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{id, aws.ToString(clone.VolumeId)} {
		if _, err := cli.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if all, err = cli.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err != nil || len(all.Volumes) != 0 {
		t.Fatalf("after delete: %d volumes, %v", len(all.Volumes), err)
	}
}

// TestSnapshotOfAttachedVolume: CreateSnapshot of a volume attached in the
// same process holds a write its writer acknowledged (from the write
// cache, not yet flushed) before the snapshot was asked for.
func TestSnapshotOfAttachedVolume(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	ctx := context.Background()
	cli := ec2Client(c)
	vol, err := cli.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("z1"), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := c.Volumes().Open(ctx, aws.ToString(vol.VolumeId), false)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	want := bytes.Repeat([]byte{0x5a}, 8192)
	if err := x.WriteAt(ctx, want, 1<<20, false); err != nil {
		t.Fatal(err)
	}
	snap, err := cli.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	sx, _, err := c.Volumes().Open(ctx, aws.ToString(snap.SnapshotId), true)
	if err != nil {
		t.Fatal(err)
	}
	defer sx.Close()
	got := make([]byte, len(want))
	if err := sx.ReadAt(ctx, got, 1<<20); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the snapshot misses a write acknowledged before CreateSnapshot")
	}
}
