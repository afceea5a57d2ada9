package postgres

import "github.com/audit-cli/audit/internal/audit"

// What this backend implements of internal/audit, checked by the compiler;
// docs/backends.md has the table of every backend.
var (
	_ audit.Store           = (*Store)(nil)
	_ audit.Statser         = (*Store)(nil)
	_ audit.ChainStore      = (*Store)(nil)
	_ audit.Pruner          = (*Store)(nil)
	_ audit.Importer        = (*Store)(nil)
	_ audit.TokenStore      = (*Store)(nil)
	_ audit.RollupRebuilder = (*Store)(nil)
)
