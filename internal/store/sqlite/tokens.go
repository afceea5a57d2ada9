package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// CreateToken stores the API token t (its hash, never a secret), creating
// the store's file if needed. A token of the same name, or with the same
// hash, is an error wrapping audit.ErrInvalid.
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
	db, err := s.writer(ctx)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `INSERT INTO tokens (name, role, hash, created, expires, last_used) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Name, string(t.Role), t.Hash, t.Created.UnixNano(), nullTime(t.Expires), nullTime(t.LastUsed))
	var se sqlite3.Error
	if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey {
		return fmt.Errorf("%w: a token named %q exists already (revoke it first, or choose another name)", audit.ErrInvalid, t.Name)
	}
	if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
		return fmt.Errorf("%w: token %q: %v", audit.ErrInvalid, t.Name, err)
	}
	return s.wrapErr("create a token in", err)
}

// Tokens lists the tokens sorted by name; a store not created yet has none.
func (s *Store) Tokens(ctx context.Context) ([]audit.Token, error) {
	db, err := s.readers(ctx)
	if errors.Is(err, errMissing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT name, role, hash, created, expires, last_used FROM tokens ORDER BY name`)
	if err != nil {
		return nil, s.wrapErr("list the tokens of", err)
	}
	defer rows.Close()
	var out []audit.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, s.wrapErr("list the tokens of", err)
		}
		out = append(out, t)
	}
	return out, s.wrapErr("list the tokens of", rows.Err())
}

// RevokeToken deletes the named token.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	if _, err := s.readers(ctx); errors.Is(err, errMissing) {
		return fmt.Errorf("token %q: %w", name, audit.ErrNotFound)
	}
	db, err := s.writer(ctx)
	if err != nil {
		return err
	}
	r, err := db.ExecContext(ctx, `DELETE FROM tokens WHERE name = ?`, name)
	if err != nil {
		return s.wrapErr("revoke a token in", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return s.wrapErr("revoke a token in", err)
	} else if n == 0 {
		return fmt.Errorf("token %q: %w", name, audit.ErrNotFound)
	}
	return nil
}

// TokenByHash finds the token whose secret hashes to hash (lowercase hex
// SHA-256).
func (s *Store) TokenByHash(ctx context.Context, hash string) (audit.Token, error) {
	db, err := s.readers(ctx)
	if errors.Is(err, errMissing) {
		return audit.Token{}, fmt.Errorf("token: %w", audit.ErrNotFound)
	}
	if err != nil {
		return audit.Token{}, err
	}
	t, err := scanToken(db.QueryRowContext(ctx,
		`SELECT name, role, hash, created, expires, last_used FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Token{}, fmt.Errorf("token: %w", audit.ErrNotFound)
	}
	if err != nil {
		return audit.Token{}, s.wrapErr("look up a token in", err)
	}
	return t, nil
}

// TouchToken records that the named token was used at t. A token revoked
// meanwhile is no error.
func (s *Store) TouchToken(ctx context.Context, name string, t time.Time) error {
	db, err := s.writer(ctx)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE name = ? AND (last_used IS NULL OR last_used < ?)`,
		t.UnixNano(), name, t.UnixNano())
	return s.wrapErr("record the use of a token in", err)
}

func scanToken(r scanner) (audit.Token, error) {
	var t audit.Token
	var role string
	var created int64
	var expires, used sql.NullInt64
	if err := r.Scan(&t.Name, &role, &t.Hash, &created, &expires, &used); err != nil {
		return t, err
	}
	t.Role = audit.Role(role)
	t.Created = time.Unix(0, created).UTC()
	if expires.Valid {
		t.Expires = time.Unix(0, expires.Int64).UTC()
	}
	if used.Valid {
		t.LastUsed = time.Unix(0, used.Int64).UTC()
	}
	return t, nil
}

// nullTime is t in Unix nanoseconds, NULL when zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return clampNanos(t)
}
