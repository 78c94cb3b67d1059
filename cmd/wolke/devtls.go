package main

import (
	"fmt"
	"io"
	"net"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wolke-cloud/wolke/cluster"
)

// addTLSFlags adds the addressing and TLS flags of the S3 endpoint.
func addTLSFlags(f *pflag.FlagSet, o *cluster.Options) {
	f.StringVar(&o.Domain, "domain", "", "serve virtual-hosted-style requests for <bucket>.DOMAIN")
	f.StringVar(&o.TLSCert, "tls-cert", "", "serve S3 over HTTPS with this PEM certificate (needs --tls-key)")
	f.StringVar(&o.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.BoolVar(&o.TLSSelfSigned, "tls", false, "serve S3 over HTTPS with a self-signed certificate for localhost/127.0.0.1 kept in DIR/tls")
	f.StringVar(&o.NBDTLS.PSKFile, "nbd-tls-psk", "", `offer NBD STARTTLS with TLS-PSK keys from FILE ("identity:hexkey" lines, psktool's keys.psk)`)
	f.BoolVar(&o.NBDTLS.Required, "nbd-tls-required", false, "refuse NBD clients that do not start TLS (needs --nbd-tls-psk)")
}

// printTLS tells how to trust a self-signed endpoint and how to address
// buckets by host name.
func printTLS(w io.Writer, c *cluster.Cluster, o *cluster.Options) {
	if ca := c.CABundle(); ca != "" {
		fmt.Fprintf(w, `
HTTPS with a self-signed certificate; trust its CA with:
  export AWS_CA_BUNDLE=%s          # aws-cli, boto3, SDKs
  aws --ca-bundle %s --endpoint-url %s s3 ls
  s3cmd --ca-certs=%s ...;  curl --cacert %s ...
`, ca, ca, c.S3Endpoint(), ca, ca)
	}
	if a := c.NBDAddr(); a != "" && o.NBDTLS.PSKFile != "" {
		host, port, _ := net.SplitHostPort(a)
		fmt.Fprintf(w, `
NBD over TLS-PSK (keys in %[1]s; required: %[4]v):
  nbdinfo 'nbds://IDENTITY@%[2]s:%[3]s/VOL?tls-psk-file=%[1]s'
  qemu-img info --object tls-creds-psk,id=tls0,endpoint=client,dir=DIR_WITH_keys.psk,username=IDENTITY \
    --image-opts driver=nbd,host=%[2]s,port=%[3]s,export=VOL,tls-creds=tls0
`, o.NBDTLS.PSKFile, host, port, o.NBDTLS.Required)
	}
	if o.Domain != "" {
		fmt.Fprintf(w, `
Virtual-hosted-style buckets: <bucket>.%s resolves to this endpoint when your
resolver says so (names under .localhost do on most systems).
`, o.Domain)
	}
}

// addGatewayFlags adds users, addressing and TLS to `wolke gateway`.
func addGatewayFlags(cmd *cobra.Command, r *cluster.GatewayRole) {
	var users []string
	f := cmd.Flags()
	f.StringArrayVar(&users, "user", nil, "extra user NAME:ACCESS_KEY:SECRET_KEY (repeatable)")
	f.StringVar(&r.Domain, "domain", "", "serve virtual-hosted-style requests for <bucket>.DOMAIN")
	f.StringVar(&r.TLSCert, "tls-cert", "", "serve S3 over HTTPS with this PEM certificate (needs --tls-key)")
	f.StringVar(&r.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if (r.TLSCert == "") != (r.TLSKey == "") {
			return fmt.Errorf("--tls-cert and --tls-key go together")
		}
		for _, u := range users {
			user, err := parseUser(u)
			if err != nil {
				return err
			}
			r.Users = append(r.Users, user)
		}
		return run(cmd, args)
	}
}
