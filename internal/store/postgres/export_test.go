package postgres

import (
	"context"

	"github.com/audit-cli/audit/internal/audit"
)

// SelectSQL returns the query of f as Query runs it, for the plan test.
func (s *Store) SelectSQL(ctx context.Context, f audit.Filter) (string, []any, error) {
	globs, err := resolveGlobs(ctx, s.pool, &f)
	if err != nil {
		return "", nil, err
	}
	q, args := selectSQL(&f, globs, f.Order, f.Limit)
	return q, args, nil
}
