package postgres

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
)

// A host that does not resolve is one line naming it (pgx's own message
// spans lines, one per address tried), and the store is unavailable
// (exit 3).
func TestUnresolvedHostOneLine(t *testing.T) {
	s := &Store{where: "postgres://audit@db.invalid/audit"}
	inner := &net.DNSError{Err: "no such host", Name: "db.invalid", Server: "10.0.0.53:53", IsNotFound: true}
	err := s.wrapErr("open", fmt.Errorf("failed to connect to `user=audit database=audit`:\n\thostname resolving error: %w", inner))
	want := `cannot reach PostgreSQL at postgres://audit@db.invalid/audit: cannot resolve the host "db.invalid": no such host`
	if !errors.Is(err, audit.ErrUnavailable) || !strings.HasSuffix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q, want one line ending %q (ErrUnavailable)", err, want)
	}
}
