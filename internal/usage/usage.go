// Package usage is the usage error: a bad flag, argument or value, which
// the command line answers with exit status 2 and one line. It lives on
// its own so that what parses user input outside the commands (the web
// console's query string) says so the same way.
package usage

import "fmt"

// Error is a usage error.
type Error struct{ err error }

func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.err }

// Errorf returns an Error with a formatted message.
func Errorf(format string, args ...any) error {
	return &Error{fmt.Errorf(format, args...)}
}

// Wrap wraps err as an Error.
func Wrap(err error) error { return &Error{err} }
