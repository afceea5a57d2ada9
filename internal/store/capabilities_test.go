package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/remote"
	"github.com/audit-cli/audit/internal/store/sqlite"
)

// capabilities are the optional interfaces of internal/audit that
// commands discover on a store, in the order of the table.
var capabilities = []struct {
	name  string
	iface reflect.Type
}{
	{"Store", reflect.TypeFor[audit.Store]()},
	{"Statser", reflect.TypeFor[audit.Statser]()},
	{"ChainStore", reflect.TypeFor[audit.ChainStore]()},
	{"Verifier", reflect.TypeFor[audit.Verifier]()},
	{"CanonicalReader", reflect.TypeFor[audit.CanonicalReader]()},
	{"Pruner", reflect.TypeFor[audit.Pruner]()},
	{"Importer", reflect.TypeFor[audit.Importer]()},
	{"TokenStore", reflect.TypeFor[audit.TokenStore]()},
	{"RollupRebuilder", reflect.TypeFor[audit.RollupRebuilder]()},
}

var backends = []struct {
	name string
	typ  reflect.Type
}{
	{"sqlite", reflect.TypeFor[*sqlite.Store]()},
	{"postgres", reflect.TypeFor[*postgres.Store]()},
	{"remote", reflect.TypeFor[*remote.Store]()},
}

// capabilityTable is the backend × capability table as docs/backends.md
// has it.
func capabilityTable() string {
	var b strings.Builder
	b.WriteString("| backend |")
	for _, c := range capabilities {
		fmt.Fprintf(&b, " %s |", c.name)
	}
	b.WriteString("\n|---|")
	for range capabilities {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, be := range backends {
		fmt.Fprintf(&b, "| %s |", be.name)
		for _, c := range capabilities {
			mark := " — |"
			if be.typ.Implements(c.iface) {
				mark = " yes |"
			}
			b.WriteString(mark)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// The table of docs/backends.md is what the backends implement: a backend
// that gains or loses a capability changes the docs with it.
func TestCapabilityTable(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "backends.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := capabilityTable()
	if !strings.Contains(string(doc), want) {
		t.Errorf("docs/backends.md does not hold the capability table of the code; it should read:\n\n%s", want)
	}
}
