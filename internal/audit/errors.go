package audit

import "errors"

// Errors that stores and commands wrap with %w; the command line maps each
// to its exit code (see DESIGN.md §5).
var (
	// ErrInvalid marks bad input: an event that fails validation, a bad filter.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound means the requested event does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable means the store is missing or cannot be reached.
	ErrUnavailable = errors.New("store unavailable")
	// ErrUnauthorized means the remote store refused the credentials.
	ErrUnauthorized = errors.New("authentication required")
	// ErrForbidden means the credentials lack the role the request needs.
	ErrForbidden = errors.New("permission denied")
	// ErrIntegrity means the hash chain does not verify.
	ErrIntegrity = errors.New("integrity check failed")
)
