package postgres

// IPKeySQL is ipKeySQL, for TestIPKey.
const IPKeySQL = ipKeySQL

// SetTruncateMin sets truncateMin for a test and returns what restores it.
func SetTruncateMin(n int64) (restore func()) {
	old := truncateMin
	truncateMin = n
	return func() { truncateMin = old }
}

// SchemaVersion is the schema version this code writes.
var SchemaVersion = schemaVersion
