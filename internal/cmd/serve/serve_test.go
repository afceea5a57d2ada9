package serve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/cli"
	"github.com/audit-cli/audit/internal/iostreams"
)

// run runs the real command tree in-process, as the binary would, and
// returns its stdout, stderr and exit code.
func run(t *testing.T, ctx context.Context, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	f, closeStore := cli.NewFactory(ios)
	root := cli.NewCmdRoot(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if cerr := closeStore(); err == nil && cerr != nil {
		err = cerr
	}
	code := cli.Report(ios, err)
	return out.String(), errOut.String(), code
}

// setup isolates the test from the user's config and data, and pins the
// clock.
func setup(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_NOW", "2026-11-26T15:00:00Z")
	t.Setenv("TZ", "UTC")
	for _, k := range []string{"AUDIT_STORE", "AUDIT_TOKEN", "AUDIT_CONTEXT", "AUDIT_CONFIG", "NO_COLOR", "CLICOLOR_FORCE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return dir
}

// server is `audit serve` run in-process by the command tree.
type server struct {
	url    string
	stderr chan string
	code   chan int
	cancel context.CancelFunc
}

func startServe(t *testing.T, dir, store string, args ...string) *server {
	t.Helper()
	urlFile := filepath.Join(dir, "url")
	os.Remove(urlFile)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stderr: make(chan string, 1), code: make(chan int, 1), cancel: cancel}
	go func() {
		_, stderr, code := run(t, ctx, "", append([]string{"--store", store, "serve", "--listen", "127.0.0.1:0", "--url-file", urlFile}, args...)...)
		s.stderr <- stderr
		s.code <- code
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(urlFile); err == nil && len(b) > 0 {
			s.url = strings.TrimSpace(string(b))
			break
		}
		select {
		case code := <-s.code:
			t.Fatalf("serve exited %d: %s", code, <-s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop is SIGTERM: serve shuts down and exits 0. It returns serve's
// stderr, the access log.
func (s *server) stop(t *testing.T) string {
	if s.cancel == nil {
		return ""
	}
	s.cancel()
	s.cancel = nil
	select {
	case code := <-s.code:
		stderr := <-s.stderr
		if code != 0 {
			t.Errorf("serve exited %d after SIGTERM:\n%s", code, stderr)
		}
		return stderr
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	return ""
}

func createToken(t *testing.T, store, name, role string) string {
	t.Helper()
	out, stderr, code := run(t, context.Background(), "", "--store", store, "token", "create", "--name", name, "--role", role)
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, stderr)
	}
	return strings.TrimSpace(out)
}

func TestServeRefuses(t *testing.T) {
	dir := setup(t)
	db := filepath.Join(dir, "audit.db")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--store", db, "serve", "--listen", "127.0.0.1:0"}, 1, "has no API tokens, so nobody could use the server: create one first, e.g.\n  audit --store " + db + " token create --name NAME --role read"},
		{[]string{"--store", "https://audit.example.com", "serve"}, 2, "serve needs a local store"},
		{[]string{"--store", db, "serve", "--insecure-no-auth", "--listen", "0.0.0.0:0"}, 2, "allowed on a loopback address only"},
		{[]string{"--store", db, "serve", "--tls-cert", "x.pem"}, 2, "--tls-cert and --tls-key go together"},
		{[]string{"--store", db, "serve", "--max-body", "lots"}, 2, "invalid --max-body"},
		{[]string{"--store", db, "serve", "--max-watchers", "0"}, 2, "invalid --max-watchers"},
	} {
		_, stderr, code := run(t, context.Background(), "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused serve created the store")
	}
}

// TestRemoteCLI runs the commands against a store directly and through
// audit serve, and compares: the output is the same.
func TestRemoteCLI(t *testing.T) {
	dir := setup(t)
	ctx := context.Background()
	db := filepath.Join(dir, "audit.db")
	writer := createToken(t, db, "ingest", "write")
	reader := createToken(t, db, "reader", "read")
	srv := startServe(t, dir, db)

	// Import through the server.
	seed, err := filepath.Abs("../../../testdata/seed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code := run(t, ctx, "", "--store", srv.url, "--token", writer, "import", seed)
	if code != 0 || stderr != "6 read, 6 added, 0 duplicates, 0 read-only skipped\n" {
		t.Fatalf("remote import: exit %d %q %s", code, out, stderr)
	}
	out, _, code = run(t, ctx, "", "--store", srv.url, "--token", writer, "record", "--id", "rec-1",
		"--user", "jdavis", "--type", "security", "--action", "MFA Disabled", "--failed", "--ip", "10.0.0.55")
	if code != 0 || out != "rec-1\n" {
		t.Fatalf("remote record: exit %d %q", code, out)
	}

	// Reading commands: same output either way.
	for _, args := range [][]string{
		{"list"},
		{"list", "-n", "0", "-o", "jsonl"},
		{"list", "-n", "2", "--reverse"},
		{"list", "-o", "csv", "--type", "login,security"},
		{"list", "-o", "wide", "--user", "jdavis"},
		{"list", "--ip", "10.0.0.0/8", "-o", "json"},
		{"list", "--since", "2026-11-26 11:00", "--search", "cpu", "-o", "tsv"},
		{"list", "--type", "security", "--failed"},
		{"show", "seed-1"},
		{"show", "seed-1", "-o", "json"},
		{"export", "--format", "csv"},
		{"export", "--format", "jsonl", "--type", "login"},
		{"watch", "-n", "3", "--count", "3", "-o", "jsonl"},
	} {
		local, lerr, lcode := run(t, ctx, "", append([]string{"--store", db}, args...)...)
		remote, rerr, rcode := run(t, ctx, "", append([]string{"--store", srv.url, "--token", reader}, args...)...)
		if lcode != 0 || rcode != 0 || remote != local || rerr != lerr {
			t.Errorf("%v:\nlocal (exit %d):\n%s%s\nremote (exit %d):\n%s%s", args, lcode, local, lerr, rcode, remote, rerr)
		}
	}
	// A missing event: the same exit code either way.
	_, lerr, lcode := run(t, ctx, "", "--store", db, "show", "nope")
	_, rerr, rcode := run(t, ctx, "", "--store", srv.url, "--token", reader, "show", "nope")
	if lcode != rcode || !strings.Contains(rerr, `"nope"`) {
		t.Errorf("show nope: local exit %d %q, remote exit %d %q", lcode, lerr, rcode, rerr)
	}

	// Failures and their exit codes; no token ever in the output.
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--store", srv.url, "list"}, 4, "authentication failed: authentication required"},
		{[]string{"--store", srv.url, "--token", "audit_wrong", "list"}, 4, "invalid token"},
		{[]string{"--store", srv.url, "--token", reader + "x", "list"}, 4, "invalid token"},
		{[]string{"--store", srv.url, "--token", reader, "record", "--user", "x", "--type", "login"}, 4, `permission denied: token "reader" has role read; this request needs write`},
		{[]string{"--store", srv.url, "--token", reader, "import", seed}, 4, "permission denied"},
		{[]string{"--store", srv.url, "--token", reader, "list", "--type", "bogus"}, 2, "invalid --type"},
		{[]string{"--store", srv.url, "--token", reader, "token", "list"}, 2, "tokens are managed where the server's database is"},
		{[]string{"--store", srv.url + "/nothing-here", "--token", reader, "list"}, 3, "no audit API here"},
	} {
		out, stderr, code := run(t, ctx, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
		for _, tok := range []string{reader, writer} {
			if strings.Contains(out+stderr, tok) {
				t.Errorf("%v: a token in the output: %s%s", c.args, out, stderr)
			}
		}
	}

	// The failed requests are security events of the store.
	log := srv.stop(t)
	out, _, _ = run(t, ctx, "", "--store", db, "list", "--type", "security", "--failed", "--user", "anonymous", "-o", "jsonl")
	if !strings.Contains(out, `"action":"API Authentication Failed"`) || !strings.Contains(out, `"ip":"127.0.0.1"`) {
		t.Errorf("failed authentications not recorded:\n%s", out)
	}
	for _, want := range []string{"audit serve listening", "token=reader", "status=401", "status=403", "audit serve stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("serve's log lacks %q:\n%s", want, log)
		}
	}
	for _, tok := range []string{reader, writer} {
		if strings.Contains(log, tok) {
			t.Errorf("serve's log holds a token")
		}
	}

	// Unreachable: exit 3.
	_, stderr, code = run(t, ctx, "", "--store", srv.url, "--token", reader, "list")
	if code != 3 || !strings.Contains(stderr, "cannot reach the server") {
		t.Errorf("server down: exit %d %q", code, stderr)
	}
}

// TestServeTLS serves with a certificate.
func TestServeTLS(t *testing.T) {
	dir := setup(t)
	db := filepath.Join(dir, "audit.db")
	createToken(t, db, "reader", "read")
	certFile, keyFile, pool := selfSigned(t, dir)
	srv := startServe(t, dir, db, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("url %s", srv.url)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(srv.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
}

func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
