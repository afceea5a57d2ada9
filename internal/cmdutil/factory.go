package cmdutil

import (
	"fmt"
	"sync"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/store"
)

// Factory gives commands what they need, lazily: `audit --help` opens no
// store and reads no config.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Config returns the resolved configuration; the root command sets it
	// up once its flags are parsed.
	Config func() (*config.Config, error)
	// Store opens the configured store once and returns it on every call.
	Store func() (audit.Store, error)
	// Now is the clock; tests pin it.
	Now func() time.Time
	// Location is the zone for zone-less time expressions and displayed times.
	Location func() *time.Location
}

// StoreOpener returns a Store func that opens the store named by cfg once.
// The store stays open until CloseStore.
func StoreOpener(cfg func() (*config.Config, error)) (open func() (audit.Store, error), closeStore func() error) {
	var (
		mu sync.Mutex
		s  audit.Store
	)
	open = func() (audit.Store, error) {
		mu.Lock()
		defer mu.Unlock()
		if s != nil {
			return s, nil
		}
		c, err := cfg()
		if err != nil {
			return nil, err
		}
		key, err := c.ChainKey()
		if err != nil {
			return nil, err
		}
		st, err := store.Open(c.Store, store.Options{ChainKey: key, Token: c.Token})
		if err != nil {
			return nil, err
		}
		s = st
		return s, nil
	}
	closeStore = func() error {
		mu.Lock()
		defer mu.Unlock()
		if s == nil {
			return nil
		}
		err := s.Close()
		s = nil
		if err != nil {
			return fmt.Errorf("closing store: %w", err)
		}
		return nil
	}
	return open, closeStore
}

// ChainKey returns the integrity key of the configuration (the HMAC key of
// the hash chain), or nil when none is configured.
func (f *Factory) ChainKey() ([]byte, error) {
	c, err := f.Config()
	if err != nil {
		return nil, err
	}
	return c.ChainKey()
}
