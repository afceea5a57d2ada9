// Package cmdutil holds what every command package shares: the Factory that
// gives commands their streams, store and clock, the error types the command
// line maps to exit codes, and the filter flags of docs/design.md §2.
package cmdutil

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/audit-cli/audit/internal/suggest"
	"github.com/audit-cli/audit/internal/usage"
)

// FlagError is a usage error: a bad flag, argument or value. It exits 2.
type FlagError = usage.Error

// FlagErrorf returns a FlagError with a formatted message.
func FlagErrorf(format string, args ...any) error { return usage.Errorf(format, args...) }

// FlagErrorWrap wraps err as a FlagError.
func FlagErrorWrap(err error) error { return usage.Wrap(err) }

// ExitError ends the run with Code and no message beyond what the command
// already printed, e.g. `list --exit-status` finding nothing.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ErrCancel means the user interrupted the work before it finished; it exits
// 130.
var ErrCancel = errors.New("interrupted")

// UnwrapPath drops the operation and path that an *os.PathError or
// *os.LinkError repeats, for messages that name the file themselves:
// "cannot read x.jsonl: no such file or directory".
func UnwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// InvalidValue is the usage error for a flag value not among accepted: it
// names the flag and the value, suggests the nearest accepted one when the
// value looks like a typo of it, and lists them all.
func InvalidValue(flag, value string, accepted []string) error {
	list := strings.Join(accepted, ", ")
	if hint := suggest.Hint(value, accepted); hint != "" {
		return FlagErrorf("invalid %s %q: %s (accepted: %s)", flag, value, hint, list)
	}
	return FlagErrorf("invalid %s %q (accepted: %s)", flag, value, list)
}

// Reword gives err a message of its own for users while keeping what it
// is (errors.Is and As still see err, and so does the exit code).
func Reword(err error, format string, a ...any) error {
	return &reworded{msg: fmt.Sprintf(format, a...), err: err}
}

type reworded struct {
	msg string
	err error
}

func (e *reworded) Error() string { return e.msg }
func (e *reworded) Unwrap() error { return e.err }
