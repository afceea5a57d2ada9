package postgres_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/postgres/pgtest"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a server certificate for the DNS names, and its key, in
// PEM.
func (ca *testCA) issue(t *testing.T, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestTLSVerifyFull: against a server that takes TLS connections only,
// with a certificate for "localhost" from a CA of its own, the store
// works with sslmode=verify-full and that CA, and refuses, in one line
// that names the server, a CA that did not sign the certificate, a host
// name the certificate is not for, and no TLS at all.
func TestTLSVerifyFull(t *testing.T) {
	ca := newCA(t, "audit test CA")
	c := pgtest.Start(t, pgtest.Config{HBA: []string{
		"local all all trust",
		"hostssl all all 127.0.0.1/32 trust",
		"hostssl all all ::1/128 trust",
	}})
	certPEM, keyPEM := ca.issue(t, "localhost")
	cert := c.WriteFile("server.crt", certPEM, 0o644)
	key := c.WriteFile("server.key", keyPEM, 0o600)
	c.Stop()
	c.Reconfigure("ssl = on", fmt.Sprintf("ssl_cert_file = '%s'", cert), fmt.Sprintf("ssl_key_file = '%s'", key))
	c.Restart()
	root := c.WriteFile("root.crt", ca.pem, 0o644)
	other := c.WriteFile("other.crt", newCA(t, "another CA").pem, 0o644)

	ctx := context.Background()
	dsn := fmt.Sprintf("postgres://postgres@localhost:%d/postgres?sslmode=verify-full&sslrootcert=%s", c.Port, root)
	s := open(t, dsn, testOptions)
	events := storetest.Events(10, 1)
	if _, err := s.Append(ctx, events); err != nil {
		t.Fatalf("Append over verify-full TLS: %v", err)
	}
	if got := collect(t, s, audit.Filter{}); len(got) != len(events) {
		t.Fatalf("%d events read back over TLS, want %d", len(got), len(events))
	}
	var inUse bool
	if err := connect(t, dsn).QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&inUse); err != nil || !inUse {
		t.Fatalf("pg_stat_ssl says ssl = %v (%v) for a verify-full connection", inUse, err)
	}

	for _, bad := range []struct {
		name, dsn, want string
	}{
		{"another CA", fmt.Sprintf("postgres://postgres@localhost:%d/postgres?sslmode=verify-full&sslrootcert=%s", c.Port, other), "certificate"},
		{"a name the certificate is not for", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=verify-full&sslrootcert=%s", c.Port, root), "127.0.0.1"},
		{"no TLS", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port), "no encryption"},
	} {
		_, err := postgres.Open(bad.dsn+"&connect_timeout=5", testOptions)
		if err == nil {
			t.Errorf("%s: Open succeeded", bad.name)
			continue
		}
		msg := err.Error()
		if !errors.Is(err, audit.ErrUnavailable) && !errors.Is(err, audit.ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrUnavailable or ErrUnauthorized (exit 3 or 4)", bad.name, err)
		}
		if strings.Contains(msg, "\n") || !strings.Contains(msg, fmt.Sprint(c.Port)) || !strings.Contains(msg, bad.want) {
			t.Errorf("%s: error %q: want one line naming the server and %q", bad.name, msg, bad.want)
		}
		t.Logf("%s: %v", bad.name, err)
	}
}
