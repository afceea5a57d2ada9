package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/audit-cli/audit/internal/audit"
)

// The tokens live in audit_tokens, so that every `audit serve` replica in
// front of the database sees the same ones. Times are Unix nanoseconds, as
// in the SQLite store, so that they round-trip exactly; expires and
// last_used are NULL for never.

const tokenColumns = "name, role, hash, created, expires, last_used"

// CreateToken stores the API token t (its hash, never a secret), creating
// the schema if needed. A token of the same name, or with the same hash, is
// an error wrapping audit.ErrInvalid.
func (s *Store) CreateToken(ctx context.Context, t audit.Token) error {
	if t.Name == "" {
		return fmt.Errorf("%w: a token needs a name", audit.ErrInvalid)
	}
	if _, err := audit.ParseRole(string(t.Role)); err != nil {
		return fmt.Errorf("%w: %v", audit.ErrInvalid, err)
	}
	if t.Hash == "" {
		return fmt.Errorf("%w: token %q has no hash", audit.ErrInvalid, t.Name)
	}
	if t.Created.IsZero() {
		t.Created = time.Now()
	}
	if err := s.ensureSchema(ctx); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, "INSERT INTO audit_tokens ("+tokenColumns+") VALUES ($1, $2, $3, $4, $5, $6)",
		t.Name, string(t.Role), t.Hash, clampNanos(t.Created), nullNanos(t.Expires), nullNanos(t.LastUsed))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		if pe.ConstraintName == "audit_tokens_pkey" {
			return fmt.Errorf("%w: a token named %q exists already (revoke it first, or choose another name)", audit.ErrInvalid, t.Name)
		}
		return fmt.Errorf("%w: token %q: %s", audit.ErrInvalid, t.Name, pe.Message)
	}
	return s.wrapErr("create a token in", err)
}

// Tokens lists the tokens sorted by name; a database without the schema
// has none.
func (s *Store) Tokens(ctx context.Context) ([]audit.Token, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, "SELECT "+tokenColumns+" FROM audit_tokens ORDER BY name")
	var list []audit.Token
	if err == nil {
		list, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Token, error) { return scanToken(r) })
	}
	if err != nil {
		err = s.tokenErr("list the tokens of", err)
		if errors.Is(err, audit.ErrNotFound) {
			return nil, nil // no schema yet
		}
		return nil, err
	}
	return list, nil
}

// RevokeToken deletes the named token.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM audit_tokens WHERE name = $1", name)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	if err != nil {
		err = s.tokenErr("revoke a token in", err)
		if errors.Is(err, audit.ErrNotFound) {
			return fmt.Errorf("token %q: %w", name, audit.ErrNotFound)
		}
		return err
	}
	return nil
}

// TokenByHash finds the token whose secret hashes to hash (lowercase hex
// SHA-256).
func (s *Store) TokenByHash(ctx context.Context, hash string) (audit.Token, error) {
	if err := s.checkOpen(); err != nil {
		return audit.Token{}, err
	}
	t, err := scanToken(s.pool.QueryRow(ctx, "SELECT "+tokenColumns+" FROM audit_tokens WHERE hash = $1", hash))
	if err != nil {
		err = s.tokenErr("look up a token in", err)
		if errors.Is(err, audit.ErrNotFound) {
			return audit.Token{}, fmt.Errorf("token: %w", audit.ErrNotFound)
		}
		return audit.Token{}, err
	}
	return t, nil
}

// TouchToken records that the named token was used at t; an older use
// does not move last_used back. A token revoked meanwhile is no error.
func (s *Store) TouchToken(ctx context.Context, name string, t time.Time) error {
	if err := s.ensureSchema(ctx); err != nil {
		return err
	}
	n := clampNanos(t)
	_, err := s.pool.Exec(ctx, "UPDATE audit_tokens SET last_used = $1 WHERE name = $2 AND (last_used IS NULL OR last_used < $1)", n, name)
	return s.wrapErr("record the use of a token in", err)
}

// tokenErr is wrapErr for reads of tokens, where a database without the
// schema, or a missing row, simply has no such token.
func (s *Store) tokenErr(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.ErrNotFound
	}
	w := s.wrapErr(op, err)
	var me *missingError
	if errors.As(w, &me) {
		return audit.ErrNotFound
	}
	return w
}

func scanToken(r pgx.Row) (audit.Token, error) {
	var t audit.Token
	var role string
	var created int64
	var expires, used *int64
	if err := r.Scan(&t.Name, &role, &t.Hash, &created, &expires, &used); err != nil {
		return t, err
	}
	t.Role = audit.Role(role)
	t.Created = time.Unix(0, created).UTC()
	if expires != nil {
		t.Expires = time.Unix(0, *expires).UTC()
	}
	if used != nil {
		t.LastUsed = time.Unix(0, *used).UTC()
	}
	return t, nil
}

// nullNanos is t in Unix nanoseconds, NULL when zero.
func nullNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return clampNanos(t)
}

// clampNanos is t in Unix nanoseconds, clamped to the int64 range (years
// 1677 to 2262).
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}
