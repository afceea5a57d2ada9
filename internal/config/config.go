// Package config resolves the settings of a run from flags, the environment
// (AUDIT_*), the config file and defaults, in that order of precedence. It is
// the only package that uses viper.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Context is a named store and its token, kept in the config file so a user
// can switch between deployments with --context.
type Context struct {
	Store string `mapstructure:"store" yaml:"store"`
	Token string `mapstructure:"token" yaml:"token,omitempty"`
	// ReadStore is a read-only copy of Store (a PostgreSQL streaming
	// standby) that list, show, export, stats and the web console read.
	ReadStore string `mapstructure:"read-store" yaml:"read-store,omitempty"`
}

// AlertRule is one rule of the config file's alerts: list, as written
// there: the filter flags of watch by their names, a threshold, and
// where its alerts go (see docs/alerts.md).
type AlertRule struct {
	Name         string   `mapstructure:"name"`
	User         []string `mapstructure:"user"`
	Type         []string `mapstructure:"type"`
	Action       []string `mapstructure:"action"`
	Resource     []string `mapstructure:"resource"`
	ResourceType []string `mapstructure:"resource-type"`
	IP           []string `mapstructure:"ip"`
	Outcome      string   `mapstructure:"outcome"`
	Source       []string `mapstructure:"source"`
	Failed       bool     `mapstructure:"failed"`
	Search       string   `mapstructure:"search"`

	Burst        string `mapstructure:"burst"`    // N/DURATION
	GroupBy      string `mapstructure:"group-by"` // user, ip, resource
	Cooldown     string `mapstructure:"cooldown"` // a duration
	MaxPerMinute *int   `mapstructure:"max-per-minute"`

	Exec              []string `mapstructure:"exec"`
	Webhook           []string `mapstructure:"webhook"`
	WebhookSecretFile string   `mapstructure:"webhook-secret-file"`
	Syslog            bool     `mapstructure:"syslog"`
}

// Config is the resolved configuration of one run.
type Config struct {
	// Alerts are the named alert rules of the file, in its order.
	Alerts         []AlertRule
	Store          string
	ReadStore      string // read-store: where reads go, "" for Store
	Token          string
	Output         string
	Color          string
	Timezone       string
	Context        string // the context in effect, "" for none
	KeyFile        string // integrity.key-file: HMAC key for the hash chain
	Pager          string // the pager for a terminal; see iostreams.PagerCommand
	PagerSet       bool   // the file sets pager, "" (none) included
	Contexts       map[string]Context
	CurrentContext string
	File           string // the config file read, "" when none exists
	// Sources says where each setting's value came from, by key (store,
	// token, output, color, timezone, context, integrity.key-file): "flag
	// --store", "env AUDIT_STORE", "context prod", "file PATH" or
	// "default".
	Sources map[string]string
}

// Keys are the settings Sources describes, in the order `audit config`
// prints them.
var Keys = []string{"store", "read-store", "token", "context", "output", "color", "pager", "timezone", "integrity.key-file"}

// sourceOf says where key's value comes from.
func sourceOf(v *viper.Viper, flags *pflag.FlagSet, key, file string) string {
	if f := flags.Lookup(key); f != nil && f.Changed {
		return "flag --" + key
	}
	if env := envName(key); !strings.Contains(key, ".") {
		if _, ok := os.LookupEnv(env); ok {
			return "env " + env
		}
	}
	if file != "" && v.InConfig(key) {
		return "file " + file
	}
	return "default"
}

// DefaultPath returns $XDG_CONFIG_HOME/audit/config.yaml, or
// ~/.config/audit/config.yaml.
func DefaultPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "audit", "config.yaml")
}

// ExplicitPath is the config file a command line names: --config, else
// AUDIT_CONFIG, else "" (the default path, which may be missing).
func ExplicitPath(flags *pflag.FlagSet) string {
	if fl := flags.Lookup("config"); fl != nil && fl.Value.String() != "" {
		return fl.Value.String()
	}
	return os.Getenv("AUDIT_CONFIG")
}

// Load reads the config file at path (DefaultPath when empty; a missing
// default file is not an error, a missing explicit one is) and layers the
// AUDIT_* environment and the changed flags of fs over it. Flags are looked
// up by the names store, token, color, context and utc.
func Load(path string, flags *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	v.SetEnvPrefix("AUDIT")
	v.AutomaticEnv()
	v.SetDefault("color", "auto")
	v.SetDefault("output", "table")

	explicit := path != ""
	if !explicit {
		path = DefaultPath()
	}
	cfg := &Config{}
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			var pe *fs.PathError
			if !explicit && (errors.As(err, &pe) || errors.Is(err, fs.ErrNotExist)) {
				// no config file: defaults apply
			} else {
				return nil, fmt.Errorf("reading config %s: %w", path, err)
			}
		} else {
			cfg.File = path
		}
	}
	if err := v.BindEnv("read-store", envName("read-store")); err != nil {
		return nil, err
	}
	for _, name := range []string{"store", "read-store", "token", "color", "context"} {
		if f := flags.Lookup(name); f != nil {
			if err := v.BindPFlag(name, f); err != nil {
				return nil, err
			}
		}
	}
	cfg.Contexts = map[string]Context{}
	if err := v.UnmarshalKey("contexts", &cfg.Contexts); err != nil {
		return nil, fmt.Errorf("config %s: contexts: %w", path, err)
	}
	if err := v.UnmarshalKey("alerts", &cfg.Alerts); err != nil {
		return nil, fmt.Errorf("config %s: alerts: %w", path, err)
	}
	cfg.CurrentContext = v.GetString("current-context")
	cfg.Output = v.GetString("output")
	cfg.Color = v.GetString("color")
	cfg.Timezone = v.GetString("timezone")
	cfg.KeyFile = v.GetString("integrity.key-file")
	cfg.Pager, cfg.PagerSet = v.GetString("pager"), v.InConfig("pager")
	cfg.Sources = map[string]string{}
	for _, key := range Keys {
		cfg.Sources[key] = sourceOf(v, flags, key, cfg.File)
	}
	if f := flags.Lookup("utc"); f != nil && f.Changed && f.Value.String() == "true" {
		cfg.Timezone = "UTC"
		cfg.Sources["timezone"] = "flag --utc"
	}

	// A context supplies store and token unless a flag or AUDIT_STORE /
	// AUDIT_TOKEN says otherwise.
	cfg.Context = v.GetString("context")
	if cfg.Context == "" {
		cfg.Context = cfg.CurrentContext
		if cfg.Context != "" {
			cfg.Sources["context"] = "file " + cfg.File + " (current-context)"
		}
	}
	cfg.Store, cfg.Token, cfg.ReadStore = v.GetString("store"), v.GetString("token"), v.GetString("read-store")
	if cfg.Context != "" {
		c, ok := cfg.Contexts[cfg.Context]
		if !ok {
			return nil, fmt.Errorf("unknown context %q (known: %s)", cfg.Context, cfg.contextNames())
		}
		storeSet := isSet(v, flags, "store")
		if !storeSet {
			cfg.Store = c.Store
			cfg.Sources["store"] = "context " + cfg.Context
		}
		// The context's token goes to the context's store only: with
		// another store named by a flag or AUDIT_STORE, sending it there
		// would hand it to whoever runs that server.
		if !isSet(v, flags, "token") && (!storeSet || cfg.Store == c.Store) {
			cfg.Token = c.Token
			if c.Token != "" {
				cfg.Sources["token"] = "context " + cfg.Context
			}
		}
		// So does its read store, a copy of the context's store alone.
		if !isSet(v, flags, "read-store") && (!storeSet || cfg.Store == c.Store) && c.ReadStore != "" {
			cfg.ReadStore = c.ReadStore
			cfg.Sources["read-store"] = "context " + cfg.Context
		}
	}
	return cfg, nil
}

// isSet reports whether key came from a flag or the environment, which
// outrank a context.
func isSet(v *viper.Viper, flags *pflag.FlagSet, key string) bool {
	if f := flags.Lookup(key); f != nil && f.Changed {
		return true
	}
	_, ok := os.LookupEnv(envName(key))
	return ok
}

// envName is the environment variable of a setting: AUDIT_STORE,
// AUDIT_READ_STORE.
func envName(key string) string {
	return "AUDIT_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

func (c *Config) contextNames() string {
	names := c.ContextNames()
	if len(names) == 0 {
		return "none in the config file"
	}
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// ContextNames lists the configured contexts, sorted.
func (c *Config) ContextNames() []string {
	names := make([]string, 0, len(c.Contexts))
	for n := range c.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Location returns the zone in which zone-less times are read and times are
// shown: the configured timezone, or the local zone.
func (c *Config) Location() (*time.Location, error) {
	switch c.Timezone {
	case "", "local", "Local":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return nil, fmt.Errorf("invalid timezone %q (want an IANA name such as UTC or Europe/Berlin)", c.Timezone)
	}
	return loc, nil
}

// ChainKey reads the integrity key file, if one is configured.
func (c *Config) ChainKey() ([]byte, error) {
	if c.KeyFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("integrity key: %w", err)
	}
	if len(b) < 16 {
		return nil, fmt.Errorf("integrity key %s: shorter than 16 bytes", c.KeyFile)
	}
	return b, nil
}

// The functions below edit the config file for `audit config`. They work
// on the YAML itself (go.yaml.in/yaml/v3 nodes), not through viper, so that
// the file keeps its comments and order, and nothing from the environment
// or the defaults is written into it.

// contextName is what a context may be called: viper reads keys case-
// insensitively and splits them at dots, so names are lowercase and
// dot-free.
var contextName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// CheckContextName reports whether name can name a context.
func CheckContextName(name string) error {
	if !contextName.MatchString(name) {
		return fmt.Errorf("invalid context name %q: use lowercase letters, digits, '-' and '_' (e.g. prod, eu-staging)", name)
	}
	return nil
}

// Redacted is the text shown in place of a secret.
const Redacted = "REDACTED"

// View returns the config file at path with every token replaced by
// Redacted. A missing file is an error wrapping fs.ErrNotExist.
func View(path string) ([]byte, error) {
	doc, err := readDoc(path, false)
	if err != nil {
		return nil, err
	}
	redact(doc)
	return encodeDoc(doc)
}

// redact replaces the value of every "token" key in the tree.
func redact(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if strings.EqualFold(k.Value, "token") && v.Kind == yaml.ScalarNode && v.Value != "" {
				v.Value, v.Tag, v.Style = Redacted, "!!str", 0
			}
		}
	}
	for _, c := range n.Content {
		redact(c)
	}
}

// ReadContexts returns the contexts of the config file at path and its
// current-context, without the environment or flags; a missing file has
// none.
func ReadContexts(path string) (map[string]Context, string, error) {
	doc, err := readDoc(path, true)
	if err != nil {
		return nil, "", err
	}
	root := doc.Content[0]
	var file struct {
		Contexts       map[string]Context `yaml:"contexts"`
		CurrentContext string             `yaml:"current-context"`
	}
	if err := root.Decode(&file); err != nil {
		return nil, "", fmt.Errorf("config %s: %w", path, err)
	}
	if file.Contexts == nil {
		file.Contexts = map[string]Context{}
	}
	return file.Contexts, file.CurrentContext, nil
}

// SetContext creates or updates the context name in the config file at
// path, creating the file (mode 0600: it holds tokens) if needed. Empty
// values of set leave the context's as they are; a new context needs a
// store.
func SetContext(path, name string, set Context) error {
	store, token := set.Store, set.Token
	if err := CheckContextName(name); err != nil {
		return err
	}
	doc, err := readDoc(path, true)
	if err != nil {
		return err
	}
	contexts := mapValue(doc.Content[0], "contexts", true)
	c := mapValue(contexts, name, false)
	if c == nil {
		if store == "" {
			return fmt.Errorf("context %q does not exist yet: give its --store", name)
		}
		c = mapValue(contexts, name, true)
	}
	if store != "" {
		setScalar(c, "store", store)
	}
	if token != "" {
		setScalar(c, "token", token)
	}
	if set.ReadStore != "" {
		setScalar(c, "read-store", set.ReadStore)
	}
	return writeDoc(path, doc)
}

// UseContext makes name the current-context of the config file at path.
func UseContext(path, name string) error {
	doc, err := readDoc(path, true)
	if err != nil {
		return err
	}
	if mapValue(mapValue(doc.Content[0], "contexts", true), name, false) == nil {
		contexts, _, _ := ReadContexts(path)
		cfg := &Config{Contexts: contexts}
		return fmt.Errorf("unknown context %q (known: %s)", name, cfg.contextNames())
	}
	setScalar(doc.Content[0], "current-context", name)
	return writeDoc(path, doc)
}

// DeleteContext removes the context name from the config file at path,
// and the current-context if it named it.
func DeleteContext(path, name string) error {
	doc, err := readDoc(path, true)
	if err != nil {
		return err
	}
	root := doc.Content[0]
	contexts := mapValue(root, "contexts", false)
	if contexts == nil || !deleteKey(contexts, name) {
		return fmt.Errorf("unknown context %q", name)
	}
	if cur := mapValue(root, "current-context", false); cur != nil && cur.Value == name {
		deleteKey(root, "current-context")
	}
	return writeDoc(path, doc)
}

// readDoc parses the YAML file at path into a document whose root is a
// mapping. A missing file is an empty document when missingOK.
func readDoc(path string, missingOK bool) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && missingOK {
		data, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config %s: not a YAML mapping of settings", path)
	}
	return &doc, nil
}

// mapValue returns the value of key in mapping m, adding an empty mapping
// under key when create. A key whose value is no mapping (e.g. "contexts:"
// left empty) becomes one when create.
func mapValue(m *yaml.Node, key string, create bool) *yaml.Node {
	if m == nil {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			if create && v.Kind != yaml.MappingNode {
				*v = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			}
			return v
		}
	}
	if !create {
		return nil
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return v
}

// setScalar sets key of mapping m to the string value.
func setScalar(m *yaml.Node, key, value string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			*m.Content[i+1] = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value,
				LineComment: m.Content[i+1].LineComment}
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}

func deleteKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return true
		}
	}
	return false
}

func encodeDoc(doc *yaml.Node) ([]byte, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// writeDoc replaces the file at path (following a symlink) atomically
// with doc, mode 0600, creating its directory (0700) if needed.
func writeDoc(path string, doc *yaml.Node) error {
	data, err := encodeDoc(doc)
	if err != nil {
		return err
	}
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
