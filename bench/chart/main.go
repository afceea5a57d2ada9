// Command chart draws the figures of bench/run.sh as an SVG line chart:
// the time of each measure against the number of events, both axes
// logarithmic, audit's lines solid and the reference tools' dashed, so
// that a cost that grows with the store rises and one that does not stays
// flat.
//
//	go run ./bench/chart -in bench/data/run.tsv -out growth.svg
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// point is one figure: a measure at a size, by audit or its reference.
type point struct {
	size, ms float64
}

func main() {
	in := flag.String("in", "bench/data/run.tsv", "the figures, as bench/run.sh writes them")
	out := flag.String("out", "growth.svg", "the chart to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	series, order, err := read(in)
	if err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("%s holds no figures", in)
	}
	return os.WriteFile(out, []byte(draw(series, order)), 0o644)
}

// read returns the series of the TSV by name ("import", "import: sqlite3
// .import", …) in the order they first appear.
func read(path string) (map[string][]point, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	series := map[string][]point{}
	var order []string
	add := func(name string, size float64, v string) {
		ms, err := strconv.ParseFloat(v, 64)
		if err != nil || ms <= 0 {
			return // none measured
		}
		if _, ok := series[name]; !ok {
			order = append(order, name)
		}
		series[name] = append(series[name], point{size, ms})
	}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Split(sc.Text(), "\t")
		if line == 1 || len(fields) < 3 {
			continue // the header
		}
		size, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: size %q: %v", path, line, fields[0], err)
		}
		add(fields[1], size, fields[2])
		if len(fields) > 4 && fields[4] != "" {
			add(fields[1]+": "+fields[4], size, fields[3])
		}
	}
	return series, order, sc.Err()
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"}

func draw(series map[string][]point, order []string) string {
	const w, h, left, right, top, bottom = 760, 460, 70, 210, 30, 50
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, pts := range series {
		for _, p := range pts {
			minX, maxX = math.Min(minX, p.size), math.Max(maxX, p.size)
			minY, maxY = math.Min(minY, p.ms), math.Max(maxY, p.ms)
		}
	}
	lx0, lx1 := math.Floor(math.Log10(minX)), math.Ceil(math.Log10(maxX))
	ly0, ly1 := math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
	if lx1 == lx0 {
		lx1++
	}
	if ly1 == ly0 {
		ly1++
	}
	x := func(v float64) float64 { return left + (math.Log10(v)-lx0)/(lx1-lx0)*(w-left-right) }
	y := func(v float64) float64 { return h - bottom - (math.Log10(v)-ly0)/(ly1-ly0)*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	for e := lx0; e <= lx1; e++ {
		px := x(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			px, top, px, h-bottom, px, h-bottom+18, count(math.Pow(10, e)))
	}
	for e := ly0; e <= ly1; e++ {
		py := y(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			left, py, w-right, py, left-6, py+4, duration(math.Pow(10, e)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">events in the store</text>`+"\n", (left+w-right)/2, h-12)
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">time of the whole command</text>`+"\n", (top+h-bottom)/2, (top+h-bottom)/2)
	colors := map[string]string{}
	for i, name := range order {
		base, _, _ := strings.Cut(name, ": ")
		if _, ok := colors[base]; !ok {
			colors[base] = palette[len(colors)%len(palette)]
		}
		pts := slices.Clone(series[name])
		slices.SortFunc(pts, func(a, b point) int { return int(math.Copysign(1, a.size-b.size)) })
		var path []string
		for _, p := range pts {
			path = append(path, fmt.Sprintf("%.1f,%.1f", x(p.size), y(p.ms)))
		}
		dash := ""
		if base != name {
			dash = ` stroke-dasharray="5,4"`
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(path, " "), colors[base], dash)
		for _, p := range pts {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(p.size), y(p.ms), colors[base])
		}
		ly := top + 16*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/><text x="%d" y="%d">%s</text>`+"\n",
			w-right+12, ly, w-right+36, ly, colors[base], dash, w-right+42, ly+4, name)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func count(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

func duration(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%g s", ms/1000)
	}
	return fmt.Sprintf("%g ms", ms)
}
