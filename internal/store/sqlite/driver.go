package sqlite

import (
	"database/sql"
	"strings"

	"github.com/audit-cli/audit/internal/audit"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// driverName is mattn/go-sqlite3 with the SQL functions below on every
// connection. They appear in queries only, never in the schema, so the file
// stays readable by any SQLite tool.
const driverName = "sqlite3_audit"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			if err := c.RegisterFunc("audit_glob", audit.Glob, true); err != nil {
				return err
			}
			return c.RegisterFunc("audit_contains", containsFold, true)
		},
	})
}

// containsFold reports whether any of the texts contains needle, with
// audit.Filter.Match's case folding (strings.ToLower, full Unicode), which
// SQLite's LIKE and NOCASE lack: they fold ASCII letters only.
func containsFold(needle, a, b, c string) bool {
	n := strings.ToLower(needle)
	return strings.Contains(strings.ToLower(a), n) ||
		strings.Contains(strings.ToLower(b), n) ||
		strings.Contains(strings.ToLower(c), n)
}
