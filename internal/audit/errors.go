package audit

import "errors"

// Errors that stores and commands wrap with %w; the command line maps each
// to its exit code (see docs/design.md §5).
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
	// ErrBusy means the store could not take the write now because another
	// writer holds it: the same write may succeed later. It also wraps
	// ErrUnavailable, so that a command that gives up exits with 3.
	ErrBusy = &busyError{}
	// ErrConflict means an event's id is stored already with other
	// content: the producer reused an id, or the event was altered.
	ErrConflict = errors.New("id conflict")
)

type busyError struct{}

func (*busyError) Error() string { return "the store is busy with another writer" }

// Is makes ErrBusy match ErrUnavailable too.
func (*busyError) Is(target error) bool { return target == ErrUnavailable }

var ()
