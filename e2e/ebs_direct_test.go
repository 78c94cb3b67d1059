package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// ebsDirect checks the EBS direct APIs with each CLI on two snapshots of
// one volume: between them the volume's bytes [0, 1M) and [2560k, 2564k)
// were written with 0xcd, and [2564k, 3M) holds 0xab in both.
func ebsDirect(t *testing.T, c *Cluster, clis []awsCLI, work, first, second string) {
	for _, cli := range clis {
		t.Run("ebs-"+cli.name, func(t *testing.T) {
			ebs := func(args ...string) map[string]any {
				t.Helper()
				out := c.AWS(t, cli, time.Minute, work, append(append([]string{"ebs"}, args...), "--output", "json")...)
				m := map[string]any{}
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatalf("aws ebs %s: %v\n%s", args[0], err, out)
				}
				return m
			}
			ch := ebs("list-changed-blocks", "--first-snapshot-id", first, "--second-snapshot-id", second)
			var idx []int
			token := map[int]string{}
			blocks, _ := ch["ChangedBlocks"].([]any)
			for _, b := range blocks {
				m := b.(map[string]any)
				i := int(m["BlockIndex"].(float64))
				idx = append(idx, i)
				token[i], _ = m["SecondBlockToken"].(string)
				if m["FirstBlockToken"] == nil || token[i] == "" || m["FirstBlockToken"] == token[i] {
					t.Errorf("block %d: tokens %v", i, m)
				}
			}
			// Extents 0 and 2 (1 MiB each) changed: blocks 0, 1, 4, 5.
			if !slices.Equal(idx, []int{0, 1, 4, 5}) || ch["BlockSize"] != 524288.0 {
				t.Fatalf("list-changed-blocks: %v", ch)
			}
			all := ebs("list-snapshot-blocks", "--snapshot-id", second, "--max-results", "100")
			if bs, _ := all["Blocks"].([]any); len(bs) < 6 {
				t.Fatalf("list-snapshot-blocks: %v", all)
			}
			out := filepath.Join(work, "block-"+cli.name)
			got := ebs("get-snapshot-block", "--snapshot-id", second, "--block-index", "5", "--block-token", token[5], out)
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			want := append(bytes.Repeat([]byte{0xcd}, 4096), bytes.Repeat([]byte{0xab}, 508<<10)...)
			sum := sha256.Sum256(data)
			if !bytes.Equal(data, want) || got["Checksum"] != base64.StdEncoding.EncodeToString(sum[:]) ||
				got["ChecksumAlgorithm"] != "SHA256" || fmt.Sprint(got["DataLength"]) != "524288" {
				t.Fatalf("get-snapshot-block: %d bytes, %v", len(data), got)
			}
			// (aws-cli v2 prints the DataLength header as a string, v1 as a
			// number.)
			// A token of another block is refused, in the API's own form.
			msg, err := c.AWSErr(t, cli, time.Minute, work, "ebs", "get-snapshot-block", "--snapshot-id", second,
				"--block-index", "4", "--block-token", token[5], out)
			if err == nil || !bytes.Contains([]byte(msg), []byte("ValidationException")) {
				t.Fatalf("a wrong block token: %v\n%s", err, msg)
			}
		})
	}
}

// snapBlockViaGateway snapshots vol, whose first 4 MiB hold blocks 0-7,
// and reads block 3 with get-snapshot-block: want is its contents.
func snapBlockViaGateway(t *testing.T, c *Cluster, cli awsCLI, work, vol string, want []byte) {
	t.Helper()
	var snap struct{ SnapshotId string }
	out := c.AWS(t, cli, time.Minute, work, "ec2", "create-snapshot", "--volume-id", vol, "--output", "json")
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("create-snapshot: %v\n%s", err, out)
	}
	var list struct {
		Blocks []struct {
			BlockIndex int
			BlockToken string
		}
	}
	out = c.AWS(t, cli, time.Minute, work, "ebs", "list-snapshot-blocks", "--snapshot-id", snap.SnapshotId, "--output", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Blocks) != 8 || list.Blocks[3].BlockIndex != 3 {
		t.Fatalf("list-snapshot-blocks: %v\n%s", err, out)
	}
	file := filepath.Join(work, "block3")
	c.AWS(t, cli, time.Minute, work, "ebs", "get-snapshot-block", "--snapshot-id", snap.SnapshotId,
		"--block-index", "3", "--block-token", list.Blocks[3].BlockToken, file)
	if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("get-snapshot-block through the gateway: %d bytes, %v", len(got), err)
	}
}
