// Package ingest reads the audit logs that other systems write — and the
// archives audit itself exports — into audit events: it undoes
// compression, detects the producer from the content and hands each line
// to that producer's reader (one subpackage a producer).
package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/audit-cli/audit/internal/audit"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Compression names the compression that head, the first bytes of a
// stream, announces: "gzip", "zstd", or "" for none.
func Compression(head []byte) string {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return "gzip"
	case bytes.HasPrefix(head, zstdMagic):
		return "zstd"
	}
	return ""
}

// maxZstdWindow bounds the memory a zstd stream may ask for: 128 MiB, what
// `zstd --long=27` writes; larger windows are refused rather than allocated.
const maxZstdWindow = 128 << 20

// Decompress returns r's content, decompressed when it starts with the
// magic bytes of gzip (also concatenated members, as `cat a.gz b.gz`
// makes) or zstd; anything else is returned as it is. The file name plays
// no part. The reader it returns must be closed.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	switch Compression(head) {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, compressedErr("gzip", err)
		}
		return &decompressed{r: zr, format: "gzip", close: zr.Close}, nil
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, compressedErr("zstd", err)
		}
		return &decompressed{r: zr, format: "zstd", close: func() error { zr.Close(); return nil }}, nil
	}
	return io.NopCloser(br), nil
}

// decompressed words the errors of a broken compressed stream — a
// truncated download, a corrupt block — as such, so that they are not
// taken for a problem of the records inside.
type decompressed struct {
	r      io.Reader
	format string
	close  func() error
}

func (d *decompressed) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = compressedErr(d.format, err)
	}
	return n, err
}

func (d *decompressed) Close() error { return d.close() }

func compressedErr(format string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &StreamError{fmt.Sprintf("the %s stream is truncated (an incomplete download or copy?)", format)}
	}
	return &StreamError{fmt.Sprintf("the %s stream is corrupt: %v", format, err)}
}

// StreamError is a compressed stream that cannot be read to its end. It
// matches audit.ErrInvalid: the input is bad, not the store.
type StreamError struct{ msg string }

func (e *StreamError) Error() string { return e.msg }

// Is makes a StreamError match audit.ErrInvalid.
func (e *StreamError) Is(target error) bool { return target == audit.ErrInvalid }
