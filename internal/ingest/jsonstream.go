package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// JSONStream reads a large JSON document a value at a time, e.g. the
// records of a {"Records": [...]} file, without holding the document and
// without encoding/json's scan of every byte: it finds where a value ends
// (strings and nesting followed) and leaves checking the value to the
// caller's parse of it.
type JSONStream struct {
	br  *bufio.Reader
	buf []byte
	// Max bounds one value.
	Max int
}

// NewJSONStream reads from br; a byte-order mark at its start is skipped.
func NewJSONStream(br *bufio.Reader, max int) *JSONStream {
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	return &JSONStream{br: br, Max: max}
}

// errUnexpectedEOF is the end of input inside a value.
var errUnexpectedEOF = errors.New("invalid JSON: unexpected end of input")

// Peek skips whitespace and returns the next byte, unread; io.EOF at the
// end of input.
func (s *JSONStream) Peek() (byte, error) {
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		s.br.UnreadByte()
		return c, nil
	}
}

// Expect reads the next byte, which must be one of want.
func (s *JSONStream) Expect(want string) (byte, error) {
	c, err := s.Peek()
	if err == io.EOF {
		return 0, errUnexpectedEOF
	}
	if err != nil {
		return 0, err
	}
	for i := 0; i < len(want); i++ {
		if c == want[i] {
			s.br.ReadByte()
			return c, nil
		}
	}
	return 0, fmt.Errorf("invalid JSON: %q where %q was expected", c, want)
}

// Value returns the bytes of the next value, valid until the next call.
func (s *JSONStream) Value() ([]byte, error) {
	c, err := s.Peek()
	if err == io.EOF {
		return nil, errUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	s.buf = s.buf[:0]
	depth, in, esc := 0, false, false
	scalar := c != '{' && c != '[' && c != '"'
	for {
		if _, err := s.br.Peek(1); err != nil {
			if err == io.EOF && scalar && len(s.buf) > 0 {
				return s.buf, nil
			}
			if err == io.EOF {
				return nil, errUnexpectedEOF
			}
			return nil, err
		}
		chunk, _ := s.br.Peek(s.br.Buffered())
		for i, c := range chunk {
			switch {
			case esc:
				esc = false
				continue
			case in:
				if c == '\\' {
					esc = true
				} else if c == '"' {
					in = false
					if depth == 0 {
						return s.take(chunk, i+1), nil
					}
				}
				continue
			case scalar:
				switch c {
				case ',', '}', ']', ' ', '\t', '\n', '\r':
					return s.take(chunk, i), nil
				}
				continue
			}
			switch c {
			case '"':
				in = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return s.take(chunk, i+1), nil
				}
			}
		}
		s.buf = append(s.buf, chunk...)
		s.br.Discard(len(chunk))
		if len(s.buf) > s.Max {
			return nil, fmt.Errorf("a JSON value longer than %d bytes", s.Max)
		}
	}
}

// take ends the value with the first n bytes of chunk.
func (s *JSONStream) take(chunk []byte, n int) []byte {
	s.buf = append(s.buf, chunk[:n]...)
	s.br.Discard(n)
	return s.buf
}
