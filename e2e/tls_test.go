package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
)

// CABundle is the CA that `wolke dev --tls` made and clients trust.
func (c *Cluster) CABundle() string { return filepath.Join(c.Dir, "tls", "ca.pem") }

// httpClient reaches the S3 endpoint: plain, or trusting CABundle.
func (c *Cluster) httpClient() *http.Client {
	if !c.TLS {
		return http.DefaultClient
	}
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(c.CABundle()); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
