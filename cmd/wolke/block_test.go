package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/cluster"
)

// The startup line names the URI clients use: nbd://, nbds:// with TLS.
func TestBlockServingLine(t *testing.T) {
	for _, tc := range []struct {
		addr string
		role cluster.BlockRole
		want string
	}{
		{"127.0.0.1:10809", cluster.BlockRole{}, "nbd://127.0.0.1:10809/vol-...\n"},
		{"[::]:10809", cluster.BlockRole{}, "nbd://HOST:10809/vol-..."},
		{"10.0.0.7:10809", cluster.BlockRole{TLSCert: "c", TLSKey: "k"}, "nbd://10.0.0.7:10809/vol-... and nbds://10.0.0.7:10809/vol-..."},
		{"10.0.0.7:10809", cluster.BlockRole{NBDTLS: cluster.NBDTLSOptions{PSKFile: "k.psk", Required: true}}, "nbds://10.0.0.7:10809/vol-... (TLS required)"},
	} {
		var out bytes.Buffer
		printBlockServing(&out, tc.addr, &tc.role)
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s %+v: %q, want %q", tc.addr, tc.role, out.String(), tc.want)
		}
	}
}

func TestBlockCommandFlags(t *testing.T) {
	for _, args := range [][]string{
		{},                                    // no --cluster
		{"--cluster", "x", "--tls-cert", "c"}, // cert without key
		{"--cluster", "x", "--nbd-tls-required"},
		{"--cluster", "x", "--lease-ttl", "10ms"},
	} {
		cmd := blockCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(context.Background()); err == nil {
			t.Errorf("wolke block %v succeeded", args)
		}
	}
}
