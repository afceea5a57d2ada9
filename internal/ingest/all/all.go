// Package all registers every producer's format with package ingest; a
// command that imports imports this for its side effect.
package all

import (
	// Each registers its format in init.
	_ "github.com/audit-cli/audit/internal/ingest/auditd"
	_ "github.com/audit-cli/audit/internal/ingest/cloudtrail"
	_ "github.com/audit-cli/audit/internal/ingest/github"
	_ "github.com/audit-cli/audit/internal/ingest/journald"
	_ "github.com/audit-cli/audit/internal/ingest/kubernetes"
)
