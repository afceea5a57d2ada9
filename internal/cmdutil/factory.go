package cmdutil

import (
	"errors"
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
	// ReadStore is where commands that only read (list, show, export,
	// stats, the web console) read: the configured read-store, a
	// streaming standby of Store, opened once; Store's when none is
	// configured.
	ReadStore func() (audit.Store, error)
	// Now is the clock; tests pin it.
	Now func() time.Time
	// Location is the zone for zone-less time expressions and displayed times.
	Location func() *time.Location
}

// StoreOpener returns a Store func that opens the store named by cfg once,
// and a ReadStore func that opens its read-store once, or returns the
// Store's when cfg names none. The stores stay open until closeStores.
func StoreOpener(cfg func() (*config.Config, error)) (open, openRead func() (audit.Store, error), closeStores func() error) {
	var (
		mu      sync.Mutex
		s, read audit.Store
	)
	openAt := func(address func(*config.Config) string) (audit.Store, error) {
		c, err := cfg()
		if err != nil {
			return nil, err
		}
		key, err := c.ChainKey()
		if err != nil {
			return nil, err
		}
		return store.Open(address(c), store.Options{ChainKey: key, Token: c.Token})
	}
	open = func() (audit.Store, error) {
		mu.Lock()
		defer mu.Unlock()
		if s != nil {
			return s, nil
		}
		st, err := openAt(func(c *config.Config) string { return c.Store })
		if err != nil {
			return nil, err
		}
		s = st
		return s, nil
	}
	openRead = func() (audit.Store, error) {
		c, err := cfg()
		if err != nil {
			return nil, err
		}
		if c.ReadStore == "" {
			return open()
		}
		mu.Lock()
		defer mu.Unlock()
		if read != nil {
			return read, nil
		}
		st, err := openAt(func(c *config.Config) string { return c.ReadStore })
		if err != nil {
			return nil, fmt.Errorf("read store: %w", err)
		}
		read = st
		return read, nil
	}
	closeStores = func() error {
		mu.Lock()
		defer mu.Unlock()
		var errs []error
		for _, st := range []*audit.Store{&s, &read} {
			if *st == nil {
				continue
			}
			if err := (*st).Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing store: %w", err))
			}
			*st = nil
		}
		return errors.Join(errs...)
	}
	return open, openRead, closeStores
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

// Reader returns what opens the store a command that only reads reads:
// ReadStore, or Store where the factory has no ReadStore.
func (f *Factory) Reader() func() (audit.Store, error) {
	return func() (audit.Store, error) {
		if f.ReadStore == nil {
			return f.Store()
		}
		return f.ReadStore()
	}
}
