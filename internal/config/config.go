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
	"sort"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Context is a named store and its token, kept in the config file so a user
// can switch between deployments with --context.
type Context struct {
	Store string `mapstructure:"store" yaml:"store"`
	Token string `mapstructure:"token" yaml:"token,omitempty"`
}

// Config is the resolved configuration of one run.
type Config struct {
	Store          string
	Token          string
	Output         string
	Color          string
	Timezone       string
	Context        string // the context in effect, "" for none
	KeyFile        string // integrity.key-file: HMAC key for the hash chain
	Contexts       map[string]Context
	CurrentContext string
	File           string // the config file read, "" when none exists
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
	for _, name := range []string{"store", "token", "color", "context"} {
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
	cfg.CurrentContext = v.GetString("current-context")
	cfg.Output = v.GetString("output")
	cfg.Color = v.GetString("color")
	cfg.Timezone = v.GetString("timezone")
	cfg.KeyFile = v.GetString("integrity.key-file")
	if f := flags.Lookup("utc"); f != nil && f.Changed && f.Value.String() == "true" {
		cfg.Timezone = "UTC"
	}

	// A context supplies store and token unless a flag or AUDIT_STORE /
	// AUDIT_TOKEN says otherwise.
	cfg.Context = v.GetString("context")
	if cfg.Context == "" {
		cfg.Context = cfg.CurrentContext
	}
	cfg.Store, cfg.Token = v.GetString("store"), v.GetString("token")
	if cfg.Context != "" {
		c, ok := cfg.Contexts[cfg.Context]
		if !ok {
			return nil, fmt.Errorf("unknown context %q (known: %s)", cfg.Context, cfg.contextNames())
		}
		if !isSet(v, flags, "store") {
			cfg.Store = c.Store
		}
		if !isSet(v, flags, "token") {
			cfg.Token = c.Token
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
	_, ok := os.LookupEnv("AUDIT_" + map[string]string{"store": "STORE", "token": "TOKEN"}[key])
	return ok
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
