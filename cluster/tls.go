package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// TLS of the S3 endpoint: Options.TLSCert/TLSKey name a certificate and
// key; Options.TLSSelfSigned makes (once, kept in DIR/tls) a private CA
// and a certificate it signs for localhost, 127.0.0.1, ::1 and the
// Options.Domain, so that clients can trust DIR/tls/ca.pem.

func (o *Options) tlsEnabled() bool { return o.TLSSelfSigned || o.TLSCert != "" }

func (o *Options) validateTLS() error {
	const op = "cluster.Options"
	switch {
	case (o.TLSCert == "") != (o.TLSKey == ""):
		return errs.E(op, errs.Invalid, "a TLS certificate needs its key, and the other way round")
	case o.TLSSelfSigned && o.TLSCert != "":
		return errs.E(op, errs.Invalid, "a self-signed certificate and a given one are exclusive")
	case o.NBDTLS.Required && o.NBDTLS.PSKFile == "":
		return errs.E(op, errs.Invalid, "NBD TLS required without a PSK file")
	case o.NBDTLS.PSKFile != "" && o.NBDAddr == "":
		return errs.E(op, errs.Invalid, "an NBD PSK file without an NBD server")
	}
	return nil
}

// NBDTLSOptions secure the NBD server with NBD_OPT_STARTTLS and TLS 1.3
// pre-shared keys, as qemu (tls-creds-psk) and libnbd (tls-psk-file=)
// use them.
type NBDTLSOptions struct {
	PSKFile  string // "identity:hexkey" lines (psktool's keys.psk)
	Required bool   // refuse clients that do not start TLS
}

// nbdConfig is the NBD server's configuration with its TLS.
func (o *Options) nbdConfig() (nbd.Config, error) {
	cfg := nbd.Config{Workers: 64, TLSRequired: o.NBDTLS.Required} // Workers: see startBlock
	if o.NBDTLS.PSKFile != "" {
		keys, err := nbd.LoadPSKFile(o.NBDTLS.PSKFile)
		if err != nil {
			return cfg, errs.E("cluster.nbd", errs.Invalid, err)
		}
		cfg.PSK = keys
	}
	return cfg, nil
}

// CABundle is the file clients trust to reach a TLSSelfSigned endpoint
// (aws --ca-bundle, AWS_CA_BUNDLE); "" when the cluster has none.
func (c *Cluster) CABundle() string {
	if !c.opts.TLSSelfSigned {
		return ""
	}
	return filepath.Join(c.dir, "tls", "ca.pem")
}

// wrapTLS serves ln over TLS when the options ask for it.
func (c *Cluster) wrapTLS(ln net.Listener) (net.Listener, error) {
	o := &c.opts
	certFile, keyFile := o.TLSCert, o.TLSKey
	if o.TLSSelfSigned {
		var err error
		if certFile, keyFile, err = selfSigned(filepath.Join(c.dir, "tls"), tlsHosts(o.Domain), time.Now()); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return listenTLS(ln, certFile, keyFile)
}

// listenTLS serves ln over TLS with the certificate in certFile; an
// empty certFile leaves ln as it is.
func listenTLS(ln net.Listener, certFile, keyFile string) (net.Listener, error) {
	if certFile == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		ln.Close()
		return nil, errs.E("cluster.tls", errs.Invalid, err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

func tlsHosts(domain string) []string {
	hosts := []string{"localhost", "*.localhost", "127.0.0.1", "::1"}
	if domain != "" && !slices.Contains(hosts, domain) {
		hosts = append(hosts, domain, "*."+domain)
	}
	return hosts
}

// selfSigned keeps a CA and a server certificate for hosts in dir, making
// them when missing, expiring or not covering every host.
func selfSigned(dir string, hosts []string, now time.Time) (certFile, keyFile string, err error) {
	const op = "cluster.selfSigned"
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if certCovers(certFile, hosts, now) {
		return certFile, keyFile, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", errs.E(op, errs.Internal, err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", errs.E(op, errs.Internal, err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          certSerial(),
		Subject:               pkix.Name{Organization: []string{"Wolke dev"}, CommonName: "Wolke dev CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", errs.E(op, errs.Internal, err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", "", errs.E(op, errs.Internal, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", errs.E(op, errs.Internal, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: certSerial(),
		Subject:      pkix.Name{Organization: []string{"Wolke dev"}, CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", errs.E(op, errs.Internal, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", errs.E(op, errs.Internal, err)
	}
	files := []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{"ca.pem", "CERTIFICATE", caDER, 0o644},
		{"key.pem", "EC PRIVATE KEY", keyDER, 0o600},
		{"cert.pem", "CERTIFICATE", der, 0o644}, // last: its presence means the set is whole
	}
	for _, f := range files {
		b := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := writeFileAtomic(filepath.Join(dir, f.name), b, f.mode); err != nil {
			return "", "", err
		}
	}
	return certFile, keyFile, nil
}

// certCovers reports whether the certificate in file is valid for a while
// yet and names every host.
func certCovers(file string, hosts []string, now time.Time) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return false
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || now.Add(7*24*time.Hour).After(cert.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(cert.DNSNames, h) {
			return false
		}
	}
	return true
}

func certSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
