package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
)

// writeRecords writes a header (unless noHeaders) and records as csv or
// tsv; tsv values are escaped like the piped table's, so one record stays
// one line and cannot drive a terminal. No records write nothing.
func writeRecords(out *sink, format string, noHeaders bool, header []string, records [][]string) error {
	if len(records) == 0 {
		return nil
	}
	if format == "csv" {
		w := csv.NewWriter(out)
		if !noHeaders {
			if err := w.Write(header); err != nil {
				return err
			}
		}
		for _, r := range records {
			if err := w.Write(r); err != nil {
				return err
			}
		}
		w.Flush()
		return w.Error()
	}
	if !noHeaders {
		if err := writeTSVLine(out, header, nil); err != nil {
			return err
		}
	}
	for _, r := range records {
		if err := writeTSVLine(out, r, plainEscape); err != nil {
			return err
		}
	}
	return nil
}

func writeLines(out *sink, lines []string) error {
	for _, l := range lines {
		if _, err := out.WriteString(l + "\n"); err != nil {
			return err
		}
	}
	return nil
}

// jsonField and jsonObject write a JSON object with its fields in a fixed
// order (a map's would be sorted) and no HTML escaping, like the event
// printers.
type jsonField struct {
	name  string
	value any
}

type jsonObject []jsonField

// MarshalJSON writes the fields in order.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(f.name)
		if err != nil {
			return nil, err
		}
		v, err := marshalNoEscape(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// writeJSON writes v as one JSON document and a newline.
func writeJSON(out *sink, v any) error {
	b, err := marshalNoEscape(v)
	if err != nil {
		return err
	}
	out.Write(b)
	return out.WriteByte('\n')
}

// writeJSONAs writes vs as one JSON array (format json) or as JSON Lines
// (jsonl).
func writeJSONAs[T any](out *sink, format string, vs []T) error {
	if format == "json" {
		return writeJSONArray(out, vs)
	}
	return writeJSONLines(out, vs)
}

// writeJSONArray writes vs as one JSON array with an element a line, as the
// json format of events does: "[", the elements separated by ",\n", "]\n";
// none give "[]\n".
func writeJSONArray[T any](out *sink, vs []T) error {
	out.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			out.WriteString(",\n")
		}
		b, err := marshalNoEscape(v)
		if err != nil {
			return err
		}
		out.Write(b)
	}
	_, err := out.WriteString("]\n")
	return err
}

func writeJSONLines[T any](out *sink, vs []T) error {
	for _, v := range vs {
		if err := writeJSON(out, v); err != nil {
			return err
		}
	}
	return nil
}
