package audit

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Role is what an API token may do on a remote store.
type Role string

// The three roles, each including the ones before it.
const (
	RoleRead  Role = "read"  // list, show, export, watch, stats
	RoleWrite Role = "write" // + record, import
	RoleAdmin Role = "admin" // + tokens, prune
)

// ParseRole returns the Role named by s.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleRead, RoleWrite, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (accepted: read, write, admin)", s)
}

// Allows reports whether r includes the rights of need.
func (r Role) Allows(need Role) bool {
	rank := map[Role]int{RoleRead: 1, RoleWrite: 2, RoleAdmin: 3}
	return rank[r] >= rank[need] && rank[need] > 0
}

// Token is an API token of `audit serve` as stored: never the secret
// itself, only its SHA-256 hash.
type Token struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Hash     string    `json:"-"` // hex SHA-256 of the secret
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never
	LastUsed time.Time `json:"last_used,omitzero"`
}

// TokenStore is implemented by stores that keep the API tokens of the
// `audit serve` in front of them (SQLite, PostgreSQL), so that several
// server replicas share them.
type TokenStore interface {
	// CreateToken stores t; a token of the same name is an error wrapping
	// ErrInvalid.
	CreateToken(ctx context.Context, t Token) error
	// Tokens lists the tokens, sorted by name.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken deletes the named token, or returns ErrNotFound.
	RevokeToken(ctx context.Context, name string) error
	// TokenByHash finds the token whose secret hashes to hash, or returns
	// ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// TouchToken records that the named token was used at t.
	TouchToken(ctx context.Context, name string, t time.Time) error
}
