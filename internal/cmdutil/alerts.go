package cmdutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/alert"
	"github.com/audit-cli/audit/internal/build"
	"github.com/audit-cli/audit/internal/config"
)

// AlertSpec is an alert rule as people write it, on watch's command line
// or in the config file's alerts: list: a threshold and the targets (the
// filter is a FilterFlags beside it).
type AlertSpec struct {
	Burst             string // N/DURATION; "" alerts on every event
	GroupBy           string
	Cooldown          time.Duration
	MaxPerMinute      int
	Exec              []string
	Webhooks          []string
	WebhookSecretFile string
	Syslog            bool
}

// DefaultMaxPerMinute bounds the alerts of one minute unless the rule says
// otherwise.
const DefaultMaxPerMinute = 20

// Validate checks the spec; errors name the flag (or key) and what it
// accepts.
func (s *AlertSpec) Validate() error {
	if s.Burst != "" {
		if _, _, err := alert.ParseBurst(s.Burst); err != nil {
			return FlagErrorf("invalid --burst: %v", err)
		}
	} else if s.GroupBy != "" || s.Cooldown != 0 {
		return FlagErrorf("--group-by and --cooldown go with --burst N/DURATION")
	}
	if s.GroupBy != "" {
		if _, err := alert.ParseGroupBy(s.GroupBy); err != nil {
			return FlagErrorf("invalid --group-by: %v", err)
		}
	}
	if s.Cooldown < 0 || s.MaxPerMinute < 0 {
		return FlagErrorf("--cooldown and --max-per-minute must not be negative")
	}
	for _, u := range s.Webhooks {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return FlagErrorf("invalid --webhook %q: want an http:// or https:// URL", u)
		}
	}
	return nil
}

// Rule is the alert rule of the spec over the filter ff.
func (s *AlertSpec) Rule(name string, ff *FilterFlags, now time.Time, loc *time.Location) (*alert.Rule, error) {
	f, _, err := ff.Filter(now, loc)
	if err != nil {
		return nil, err
	}
	r := &alert.Rule{Name: name, Filter: f, MaxPerMinute: s.MaxPerMinute}
	if s.Burst != "" {
		n, w, err := alert.ParseBurst(s.Burst)
		if err != nil {
			return nil, FlagErrorf("invalid --burst: %v", err)
		}
		r.Burst = &alert.Burst{Count: n, Window: w, GroupBy: s.GroupBy, Cooldown: s.Cooldown}
	}
	return r, r.Validate()
}

// Targets builds the targets the spec names.
func (s *AlertSpec) Targets() ([]alert.Target, error) {
	var ts []alert.Target
	for _, c := range s.Exec {
		ts = append(ts, &alert.Exec{Command: c})
	}
	if len(s.Webhooks) > 0 {
		secret, err := WebhookSecret(s.WebhookSecretFile)
		if err != nil {
			return nil, err
		}
		for _, u := range s.Webhooks {
			ts = append(ts, &alert.Webhook{URL: u, Secret: secret, Agent: "audit/" + build.Version})
		}
	}
	if s.Syslog {
		ts = append(ts, &alert.Syslog{})
	}
	return ts, nil
}

// WebhookSecret reads the webhook signing secret: the file, else the
// environment's AUDIT_WEBHOOK_SECRET, else none.
func WebhookSecret(file string) ([]byte, error) {
	if file == "" {
		return []byte(os.Getenv("AUDIT_WEBHOOK_SECRET")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, FlagErrorf("--webhook-secret-file: %v", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return nil, FlagErrorf("--webhook-secret-file %s is empty", file)
	}
	return []byte(secret), nil
}

// StateDir is where audit keeps what it must remember between runs (the
// offsets of import --follow, the cursors of alert rules):
// $XDG_STATE_HOME/audit, or ~/.local/state/audit when that is unset or
// not absolute.
func StateDir() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "audit"), nil
}

// AlertStateDir is where named alert rules keep their cursor and dead
// letters: StateDir's alerts, "" when there is no home to put it in.
func AlertStateDir() string {
	dir, err := StateDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "alerts")
}

// ConfigAlert is a rule of the config file, read: its filter, its spec,
// and where its state lives.
type ConfigAlert struct {
	Name       string
	Filter     FilterFlags
	Spec       AlertSpec
	Cursor     string
	DeadLetter string
}

// ConfigAlerts reads the alerts: list of the config file. Errors name the
// rule.
func ConfigAlerts(cfg *config.Config) ([]ConfigAlert, error) {
	var out []ConfigAlert
	seen := map[string]bool{}
	for i, c := range cfg.Alerts {
		if c.Name == "" || strings.ContainsAny(c.Name, `/\ `) {
			return nil, fmt.Errorf("config %s: alerts[%d]: want a name without spaces or slashes, got %q", cfg.File, i, c.Name)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("config %s: two alert rules named %q", cfg.File, c.Name)
		}
		seen[c.Name] = true
		a := ConfigAlert{Name: c.Name,
			Filter: FilterFlags{Users: c.User, Types: c.Type, Actions: c.Action, Resources: c.Resource, ResourceTypes: c.ResourceType,
				IPs: c.IP, Outcome: c.Outcome, Sources: c.Source, Failed: c.Failed, Search: c.Search},
			Spec: AlertSpec{Burst: c.Burst, GroupBy: c.GroupBy, MaxPerMinute: DefaultMaxPerMinute,
				Exec: c.Exec, Webhooks: c.Webhook, WebhookSecretFile: c.WebhookSecretFile, Syslog: c.Syslog}}
		if c.MaxPerMinute != nil {
			a.Spec.MaxPerMinute = *c.MaxPerMinute
		}
		if c.Cooldown != "" {
			d, err := time.ParseDuration(c.Cooldown)
			if err != nil {
				return nil, fmt.Errorf("config %s: alert %s: invalid cooldown %q (want a duration such as 30m)", cfg.File, c.Name, c.Cooldown)
			}
			a.Spec.Cooldown = d
		}
		if err := a.Spec.Validate(); err != nil {
			return nil, fmt.Errorf("config %s: alert %s: %w", cfg.File, c.Name, err)
		}
		dir := AlertStateDir()
		a.Cursor = filepath.Join(dir, c.Name+".cursor")
		a.DeadLetter = filepath.Join(dir, c.Name+".dead-letter.jsonl")
		out = append(out, a)
	}
	return out, nil
}

// FindConfigAlert returns the rule named name.
func FindConfigAlert(alerts []ConfigAlert, name string) (*ConfigAlert, error) {
	var names []string
	for i := range alerts {
		if alerts[i].Name == name {
			return &alerts[i], nil
		}
		names = append(names, alerts[i].Name)
	}
	if len(names) == 0 {
		return nil, FlagErrorf("no alert rule %q: the config file has no alerts: list (see docs/alerts.md)", name)
	}
	return nil, FlagErrorf("no alert rule %q (configured: %s)", name, strings.Join(names, ", "))
}
