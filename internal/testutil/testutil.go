// Package testutil holds what the tests of several packages share: a
// buffer that a test can read while something else writes it, and the
// audit binary built from this tree for the tests that run it as a
// process. Only tests import it.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// SyncBuffer is a bytes.Buffer safe for concurrent use: a process or a
// server's goroutines write it while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// built is the directory AuditBinary built the binary in, "" until then.
var built struct {
	mu  sync.Mutex
	dir string
}

// AuditBinary returns the path of the audit binary for tests that run it:
// the one AUDIT_TEST_BIN names, or else cmd/audit built from this tree,
// once per test process. RemoveAuditBinary removes what it built.
var AuditBinary = sync.OnceValues(func() (string, error) {
	if bin := os.Getenv("AUDIT_TEST_BIN"); bin != "" {
		return bin, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go tool to build audit: %w", err)
	}
	dir, err := os.MkdirTemp("", "audit-test-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "audit")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/audit-cli/audit/cmd/audit").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	built.mu.Lock()
	built.dir = dir
	built.mu.Unlock()
	return bin, nil
})

// RemoveAuditBinary removes the binary AuditBinary built, if it built one;
// a TestMain calls it after the tests ran.
func RemoveAuditBinary() {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.dir != "" {
		os.RemoveAll(built.dir)
		built.dir = ""
	}
}
