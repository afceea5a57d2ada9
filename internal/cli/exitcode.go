package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
)

// Exit codes of DESIGN.md §5.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitUnavailable = 3
	ExitAuth        = 4
	ExitIntegrity   = 5
	ExitInterrupted = 130
)

// ExitCode maps an error to the exit code of DESIGN.md §5. It is the one
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
