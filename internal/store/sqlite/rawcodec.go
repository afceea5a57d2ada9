package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// The original records of imported events (event_raw) are stored
// compressed with zstd and a dictionary per source, trained on the first
// rawTrainRecords records of that source the store receives and kept in
// raw_dicts. The records of one producer repeat the same keys, accounts,
// regions and agents, and a dictionary holds them once: a CloudTrail
// record of about 750 bytes takes about 95. The records written before
// the source has a dictionary, and those of stores written before it,
// stay JSON text; a compressed record is a BLOB that starts with zstd's
// magic number, which no JSON text does, and readers tell the two apart by
// it. The chain covers the record itself, not its stored form.
const (
	// rawTrainRecords is how many records of a source train its
	// dictionary, or as many as make rawTrainBytes.
	rawTrainRecords = 1000
	rawTrainBytes   = 8 << 20
	// rawDictHistory is the most of the training records a dictionary
	// keeps as its content.
	rawDictHistory = 64 << 10
	// rawMaxDecoded bounds what one stored record may decompress to: more
	// than the largest record an importer keeps (256 KiB).
	rawMaxDecoded = 4 << 20
)

// isPacked tells a compressed record (a zstd frame) from JSON text.
func isPacked[T string | []byte](b T) bool {
	return len(b) >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd
}

// rawCodec compresses and decompresses the original records of one store.
// Its dictionaries only ever grow: a committed one is never changed or
// removed, so an encoder handed out stays valid.
type rawCodec struct {
	// load reads the committed dictionaries, for a record compressed by
	// another process with a dictionary this one has not seen.
	load func(ctx context.Context) ([]rawDict, error)

	mu      sync.Mutex
	loaded  bool
	dicts   map[uint32][]byte      // every dictionary known, by zstd dictionary id
	enc     map[string]*rawEncoder // the committed dictionaries, by source
	samples map[string][][]byte    // records kept to train a source's dictionary
	sampled map[string]int         // their bytes
	failed  map[string]bool        // sources whose dictionary could not be trained
	dec     atomic.Pointer[zstd.Decoder]
}

type rawDict struct {
	id     uint32
	source string
	data   []byte
}

type rawEncoder struct {
	id  uint32
	enc *zstd.Encoder
}

func newRawCodec(load func(ctx context.Context) ([]rawDict, error)) *rawCodec {
	return &rawCodec{load: load, dicts: map[uint32][]byte{}, enc: map[string]*rawEncoder{},
		samples: map[string][][]byte{}, sampled: map[string]int{}, failed: map[string]bool{}}
}

// loadDicts reads the dictionaries of raw_dicts through q.
func loadDicts(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]rawDict, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, source, dict FROM raw_dicts")
	if err != nil {
		return nil, fmt.Errorf("read the dictionaries of the original records: %w", err)
	}
	defer rows.Close()
	var out []rawDict
	for rows.Next() {
		var d rawDict
		if err := rows.Scan(&d.id, &d.source, &d.data); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// addCommitted makes committed dictionaries known, for decoding and, by
// source, for encoding. c.mu is held.
func (c *rawCodec) addCommitted(ds []rawDict) error {
	changed := false
	for _, d := range ds {
		if _, ok := c.enc[d.source]; !ok {
			enc, err := newRawEncoder(d)
			if err != nil {
				return err
			}
			c.enc[d.source] = enc
			delete(c.samples, d.source)
			delete(c.sampled, d.source)
		}
		if _, ok := c.dicts[d.id]; !ok {
			c.dicts[d.id] = d.data
			changed = true
		}
	}
	if changed {
		return c.newDecoder()
	}
	return nil
}

// newDecoder replaces the decoder with one that knows every dictionary.
// c.mu is held.
func (c *rawCodec) newDecoder() error {
	all := make([][]byte, 0, len(c.dicts))
	for _, d := range c.dicts {
		all = append(all, d)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderDicts(all...), zstd.WithDecoderMaxMemory(rawMaxDecoded))
	if err != nil {
		return fmt.Errorf("load the dictionaries of the original records: %w", err)
	}
	c.dec.Store(dec)
	return nil
}

func newRawEncoder(d rawDict) (*rawEncoder, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderDict(d.data), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(2), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("the dictionary of the %s records: %w", d.source, err)
	}
	return &rawEncoder{id: d.id, enc: enc}, nil
}

// encoder returns the encoder of source's committed dictionary, nil when
// it has none (yet).
func (c *rawCodec) encoder(source string) *rawEncoder {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enc[source]
}

// unpack returns the record a stored original record holds. A record that
// does not decompress was changed behind the store's back: it is returned
// as stored, for verify to report the event as changed.
func (c *rawCodec) unpack(stored []byte) ([]byte, error) {
	if !isPacked(stored) {
		return stored, nil
	}
	for reloaded := false; ; reloaded = true {
		if dec := c.dec.Load(); dec != nil {
			out, err := dec.DecodeAll(stored, nil)
			if err == nil {
				return out, nil
			}
			if !errors.Is(err, zstd.ErrUnknownDictionary) || reloaded {
				return stored, nil
			}
		} else if reloaded {
			return stored, nil
		}
		if err := c.reload(); err != nil {
			return nil, err
		}
	}
}

// reload reads the committed dictionaries again.
func (c *rawCodec) reload() error {
	ds, err := c.load(context.Background())
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loaded = true
	if err := c.addCommitted(ds); err != nil {
		return err
	}
	if c.dec.Load() == nil {
		// No dictionary at all: one that knows none still decodes
		// plain frames, and unpack tells a changed record by it.
		return c.newDecoder()
	}
	return nil
}

// rawWriter is the part of a write transaction that stores original
// records: the dictionaries it trained are used for its own records at
// once and for everyone's once it commits.
type rawWriter struct {
	c       *rawCodec
	pending map[string]*rawEncoder
	trained []rawDict
	// onTrain, when set, hears of each dictionary trained, for the
	// records of this transaction only.
	onTrain func(source string, enc *rawEncoder)
}

// rawEncoders are the dictionaries one transaction trained, for a
// goroutine that prepares its records while it writes.
type rawEncoders struct {
	m atomic.Pointer[map[string]*rawEncoder]
}

// add is called by the writing goroutine.
func (t *rawEncoders) add(source string, enc *rawEncoder) {
	m := map[string]*rawEncoder{source: enc}
	if old := t.m.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	t.m.Store(&m)
}

// or returns the encoder lookup of these dictionaries and then c's.
func (t *rawEncoders) or(c *rawCodec) func(string) *rawEncoder {
	return func(source string) *rawEncoder {
		if m := t.m.Load(); m != nil {
			if enc := (*m)[source]; enc != nil {
				return enc
			}
		}
		return c.encoder(source)
	}
}

// begin reads the committed dictionaries through tx the first time.
func (w *rawWriter) begin(ctx context.Context, tx *sql.Tx) error {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if w.c.loaded {
		return nil
	}
	ds, err := loadDicts(ctx, tx)
	if err != nil {
		return err
	}
	if err := w.c.addCommitted(ds); err != nil {
		return err
	}
	w.c.loaded = true
	return nil
}

// value returns what to store for the original record of r: r's own
// compression when it was made with a committed dictionary, the record
// compressed now, or, while its source has no dictionary, the text.
func (w *rawWriter) value(ctx context.Context, tx *sql.Tx, r *row) (any, error) {
	if r.packed != nil {
		return r.packed, nil
	}
	src := r.e.SourceName()
	enc := w.pending[src]
	if enc == nil {
		enc = w.c.encoder(src)
	}
	if enc == nil {
		var err error
		if enc, err = w.sample(ctx, tx, src, r.e.Raw); err != nil {
			return nil, err
		}
	}
	if enc == nil {
		return string(r.e.Raw), nil
	}
	return enc.enc.EncodeAll(r.e.Raw, nil), nil
}

// sample keeps raw to train src's dictionary and, with enough records,
// trains it, or takes the one another process stored meanwhile.
func (w *rawWriter) sample(ctx context.Context, tx *sql.Tx, src string, raw []byte) (*rawEncoder, error) {
	c := w.c
	c.mu.Lock()
	if c.failed[src] {
		c.mu.Unlock()
		return nil, nil
	}
	c.samples[src] = append(c.samples[src], bytes.Clone(raw))
	c.sampled[src] += len(raw)
	samples, size := c.samples[src], c.sampled[src]
	c.mu.Unlock()
	if len(samples) < rawTrainRecords && size < rawTrainBytes {
		return nil, nil
	}

	d := rawDict{source: src}
	err := tx.QueryRowContext(ctx, "SELECT id, dict FROM raw_dicts WHERE source = ?", src).Scan(&d.id, &d.data)
	switch {
	case err == nil:
		// Stored by another process since this one read them.
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := c.addCommitted([]rawDict{d}); err != nil {
			return nil, err
		}
		return c.enc[src], nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("read the dictionary of the %s records: %w", src, err)
	}

	d.id, d.data, err = trainDict(samples)
	c.mu.Lock()
	delete(c.samples, src)
	delete(c.sampled, src)
	if err != nil {
		// Records stay text; the import goes on.
		c.failed[src] = true
		c.mu.Unlock()
		return nil, nil
	}
	c.mu.Unlock()
	enc, err := newRawEncoder(d)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO raw_dicts (id, source, dict) VALUES (?, ?, ?)", d.id, d.source, d.data); err != nil {
		return nil, fmt.Errorf("store the dictionary of the %s records: %w", src, err)
	}
	// Known for decoding at once: this transaction's own reads (a
	// duplicate's comparison) may meet its records. Its id is random, so
	// a rollback leaves nothing that another dictionary could be
	// confused with.
	c.mu.Lock()
	c.dicts[d.id] = d.data
	err = c.newDecoder()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if w.pending == nil {
		w.pending = map[string]*rawEncoder{}
	}
	w.pending[src] = enc
	w.trained = append(w.trained, d)
	if w.onTrain != nil {
		w.onTrain(src, enc)
	}
	return enc, nil
}

// committed hands the dictionaries this transaction trained to the
// store, once it has committed.
func (w *rawWriter) committed() {
	if len(w.trained) == 0 {
		return
	}
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	for _, d := range w.trained {
		if _, ok := w.c.enc[d.source]; !ok {
			w.c.enc[d.source] = w.pending[d.source]
		}
	}
	w.trained, w.pending = nil, nil
}

// trainDict builds a zstd dictionary from samples, with a random id in
// the range zstd leaves unregistered. A panic of the builder on input it
// cannot use is an error: the records then stay uncompressed.
func trainDict(samples [][]byte) (id uint32, dict []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("train a dictionary: %v", p)
		}
	}()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, nil, err
	}
	id = 1<<15 + binary.LittleEndian.Uint32(b[:])%(1<<31-1<<15)
	var hist []byte
	for i := len(samples) - 1; i >= 0 && len(hist) < rawDictHistory; i-- {
		hist = append(samples[i][:len(samples[i]):len(samples[i])], hist...)
	}
	if len(hist) > rawDictHistory {
		hist = hist[len(hist)-rawDictHistory:]
	}
	dict, err = zstd.BuildDict(zstd.BuildDictOptions{ID: id, Contents: samples, History: hist,
		Offsets: [3]int{1, 4, 8}, Level: zstd.SpeedFastest})
	if err != nil {
		return 0, nil, fmt.Errorf("train a dictionary: %w", err)
	}
	return id, dict, nil
}
