package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
)

// Exit codes of docs/design.md §5.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitUnavailable = 3
	ExitAuth        = 4
	ExitIntegrity   = 5
	ExitInterrupted = 130
)

// ExitCodes describes each exit code, for the manual pages and the docs.
var ExitCodes = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "success (also when list finds nothing, unless --exit-status asks for 1)"},
	{ExitError, "runtime failure: I/O, a store error"},
	{ExitUsage, "usage: an unknown flag, a bad filter or time expression, bad arguments or input"},
	{ExitUnavailable, "the store is unreachable or missing"},
	{ExitAuth, "authentication or permission denied (remote store)"},
	{ExitIntegrity, "integrity verification failed"},
	{ExitInterrupted, "interrupted, where the work is left unfinished (an interrupted export leaves no partial file)"},
}

// ExitCode maps an error to the exit code of docs/design.md §5. It is the one
// place that does.
func ExitCode(err error) int {
	var flagErr *cmdutil.FlagError
	var exitErr *cmdutil.ExitError
	switch {
	case err == nil, errors.Is(err, iostreams.ErrPagerQuit):
		return ExitOK
	case errors.As(err, &exitErr):
		return exitErr.Code
	case errors.As(err, &flagErr), errors.Is(err, audit.ErrInvalid), isCobraUsage(err):
		return ExitUsage
	case errors.Is(err, cmdutil.ErrCancel), errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.Is(err, audit.ErrUnavailable):
		return ExitUnavailable
	case errors.Is(err, audit.ErrUnauthorized), errors.Is(err, audit.ErrForbidden):
		return ExitAuth
	case errors.Is(err, audit.ErrIntegrity):
		return ExitIntegrity
	}
	return ExitError
}

// isCobraUsage recognises the usage errors cobra returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag",
		"flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
