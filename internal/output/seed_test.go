package output

import (
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// testLoc is the zone the tests display times in: not UTC, so conversion is
// exercised.
var testLoc = time.FixedZone("UTC-5", -5*60*60)

// testNow is when the tests run: 2:40 PM on Tuesday, December 1, 2026.
var testNow = time.Date(2026, 12, 1, 14, 40, 0, 0, testLoc)

func at(month time.Month, day, hour, minute int) time.Time {
	return time.Date(2026, month, day, hour, minute, 0, 0, testLoc).UTC()
}

// seedEvents returns the six events of the web page (docs/design.md §1), newest
// first as list shows them.
func seedEvents() []audit.Event {
	return []audit.Event{
		{ID: "evt-0006", Seq: 6, Time: at(time.December, 1, 14, 34), User: "jdavis", UserName: "John Davis",
			Type: audit.TypeUpdate, Action: "Updated", ResourceType: "server", Resource: "bbb-node-1",
			Details: "Changed load_multiplier from 1.0 to 1.5", IP: "192.168.1.100", Outcome: audit.OutcomeSuccess},
		{ID: "evt-0005", Seq: 5, Time: at(time.December, 1, 11, 22), User: "smiller", UserName: "Sarah Miller",
			Type: audit.TypeCreate, Action: "Created", ResourceType: "alert_rule", Resource: "High CPU Usage",
			Details: "Threshold: CPU > 80%, Severity: Warning", IP: "10.0.0.55", Outcome: audit.OutcomeSuccess},
		{ID: "evt-0004", Seq: 4, Time: at(time.December, 1, 10, 15), User: "jdavis", UserName: "John Davis",
			Type: audit.TypeSecurity, Action: "MFA Enabled", ResourceType: "account",
			Details: "Two-factor authentication activated", IP: "192.168.1.100", Outcome: audit.OutcomeSuccess},
		{ID: "evt-0003", Seq: 3, Time: at(time.December, 1, 9, 45), User: "mjohnson", UserName: "Mike Johnson",
			Type: audit.TypeLogin, Action: "Portal Access", ResourceType: "session",
			Details: "Successful login via password", IP: "203.45.67.89", Outcome: audit.OutcomeSuccess},
		{ID: "evt-0002", Seq: 2, Time: at(time.November, 30, 0, 0), User: "system", UserName: "System",
			Type: audit.TypeDelete, Action: "Deleted", ResourceType: "api_key", Resource: "old-integration",
			Details: "Auto-expired after 365 days", Outcome: audit.OutcomeSuccess},
		{ID: "evt-0001", Seq: 1, Time: at(time.November, 27, 17, 30), User: "jdavis", UserName: "John Davis",
			Type: audit.TypeLogout, Action: "Session Ended", ResourceType: "session",
			Details: "Manual logout", IP: "192.168.1.100", Outcome: audit.OutcomeSuccess,
			Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
	}
}
