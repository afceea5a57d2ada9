package cmdutil

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/filterflags"
)

// FilterFlags are the filter flags of docs/design.md §2, shared by list,
// export, watch and stats.
type FilterFlags = filterflags.Flags

// AddFilterFlags registers the filter flags on cmd.
func AddFilterFlags(cmd *cobra.Command, ff *FilterFlags) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&ff.Users, "user", "u", nil, "actor's login or display name, case-insensitive, * globs (repeatable: OR)")
	fl.StringSliceVarP(&ff.Types, "type", "t", nil, "action type: login, logout, create, update, delete, security (comma list or repeatable: OR)")
	fl.StringArrayVar(&ff.Actions, "action", nil, "action, case-insensitive, * globs")
	fl.StringArrayVar(&ff.Resources, "resource", nil, "resource name, case-insensitive, * globs")
	fl.StringArrayVar(&ff.ResourceTypes, "resource-type", nil, "resource type, case-insensitive, * globs")
	fl.StringArrayVar(&ff.IPs, "ip", nil, "client `address` or CIDR, e.g. 10.0.0.55, 10.0.0.0/8, 2001:db8::/32")
	fl.StringVar(&ff.Outcome, "outcome", "", "success or failure")
	fl.StringSliceVar(&ff.Sources, "source", nil, "where events were imported from: "+strings.Join(audit.Sources, ", ")+" (comma list or repeatable: OR)")
	fl.BoolVar(&ff.Failed, "failed", false, "only failed actions (same as --outcome failure)")
	fl.StringVar(&ff.Since, "since", "", "events at or after this `time` (7d, yesterday, 2026-11-20 14:00, RFC 3339)")
	fl.StringVar(&ff.Until, "until", "", "events before this `time`")
	fl.StringVar(&ff.Period, "period", "", "a calendar `period`: today, yesterday, this-week, last-week, this-month, last-month, this-year, last-year, 2026, 2026-11, 2026-W47, 2026-11-20")
	fl.StringVarP(&ff.Search, "search", "s", "", "text search over action, resource and details")
	fl.Int64Var(&ff.After, "after", 0, "only events with a seq greater than `SEQ` (resume)")
}
