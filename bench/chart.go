package bench

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
)

// scenarioColors are the bars' colours, by scenario id.
var scenarioColors = map[string]color.RGBA{
	"a": {0x6b, 0x6b, 0x6b, 0xff}, // kernel: grey
	"b": {0x1f, 0x77, 0xb4, 0xff}, // nftables: blue
	"c": {0xff, 0x7f, 0x0e, 0xff}, // HAProxy: orange
	"d": {0x2c, 0xa0, 0x2c, 0xff}, // GVS NAT: green
	"e": {0x17, 0xbe, 0xcf, 0xff}, // GVS DR: teal
	"f": {0x94, 0x67, 0xbd, 0xff}, // GVS TUN: purple
}

var (
	white = color.RGBA{0xff, 0xff, 0xff, 0xff}
	black = color.RGBA{0x20, 0x20, 0x20, 0xff}
	grid  = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	red   = color.RGBA{0xc0, 0x20, 0x20, 0xff}
)

type canvas struct{ img *image.RGBA }

func (c canvas) fill(x0, y0, x1, y1 int, col color.RGBA) {
	r := image.Rect(x0, y0, x1, y1).Intersect(c.img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c.img.SetRGBA(x, y, col)
		}
	}
}

// text draws s with its top-left corner at (x, y), each font pixel scale
// pixels wide.
func (c canvas) text(x, y int, s string, scale int, col color.RGBA) {
	for _, r := range s {
		g := glyph(r)
		for row, line := range g {
			for dx, p := range line {
				if p == '#' {
					c.fill(x+dx*scale, y+row*scale, x+(dx+1)*scale, y+(row+1)*scale, col)
				}
			}
		}
		x += 6 * scale
	}
}

func textWidth(s string, scale int) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return n*6*scale - scale
}

func (c canvas) centered(cx, y int, s string, scale int, col color.RGBA) {
	c.text(cx-textWidth(s, scale)/2, y, s, scale, col)
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// Chart draws the results as a PNG: one panel per charted metric, a bar
// per scenario at the median with a whisker from min to max.
func Chart(r *Results) ([]byte, error) {
	var panels []Metric
	for _, m := range Metrics {
		if m.Chart && r.HasLoad(m.Load) && r.Cells[m.ID] != nil {
			panels = append(panels, m)
		}
	}
	const (
		panelW, panelH = 400, 330
		top            = 60
		cols           = 4
	)
	rows := (len(panels) + cols - 1) / cols
	if rows == 0 {
		rows = 1
	}
	legendH := 30 + 22*((len(r.Scenarios)+1)/2)
	w, h := cols*panelW, top+rows*panelH+legendH
	c := canvas{image.NewRGBA(image.Rect(0, 0, w, h))}
	c.fill(0, 0, w, h, white)
	title := fmt.Sprintf("GVS BENCHMARK %s: MEDIAN OF %d RUNS, WHISKER MIN-MAX", r.Machine.Date.Format("2006-01-02"), r.Settings.Runs)
	c.centered(w/2, 18, title, 3, black)
	for i, m := range panels {
		x0, y0 := (i%cols)*panelW, top+(i/cols)*panelH
		drawPanel(c, r, m, x0, y0, panelW, panelH)
	}
	// legend
	y := top + rows*panelH + 10
	for i, sc := range r.Scenarios {
		x := 40 + (i%2)*(w/2)
		yy := y + (i/2)*22
		c.fill(x, yy, x+14, yy+14, scenarioColors[sc.ID])
		c.text(x+22, yy, fmt.Sprintf("(%s) %s", sc.ID, sc.Name), 2, black)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, c.img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func chartTitle(r *Results, m Metric) string {
	senders := r.Settings.Senders
	if m.ID == "udp_pps2" {
		senders = r.Settings.Senders2
	}
	switch m.ID {
	case "udp_pps", "udp_pps2":
		plural := "S"
		if senders == 1 {
			plural = ""
		}
		return fmt.Sprintf("UDP 64B KPPS, %d SENDER%s", senders, plural)
	case "cps":
		return "NEW TCP CONN/S (K)"
	case "bulk_fwd":
		return "BULK GBIT/S CLIENT>SERVER"
	case "bulk_rev":
		return "BULK GBIT/S SERVER>CLIENT"
	case "lat_p50":
		return "LATENCY P50 US (LOWER)"
	case "lat_p99_all":
		return "P99 ALL RUNS US (LOWER)"
	case "cost_dir":
		return "DIRECTOR CPU S/MPKT (LOWER)"
	}
	return m.Title
}

// chartScale divides values for the axis (kpps, k conn/s).
func chartScale(m Metric) float64 {
	if m.Unit == "pps" || m.Unit == "conn/s" {
		return 1000
	}
	return 1
}

func chartLabel(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func drawPanel(c canvas, r *Results, m Metric, x0, y0, w, h int) {
	c.centered(x0+w/2, y0+8, chartTitle(r, m), 2, black)
	const left, bottom = 56, 34
	px0, py0 := x0+left, y0+36
	px1, py1 := x0+w-16, y0+h-bottom
	scale := chartScale(m)
	// the axis holds every median and the whiskers up to twice the
	// largest median; a longer whisker is cut, with an arrow
	maxMed, maxW := 0.0, 0.0
	for _, sc := range r.Scenarios {
		s := r.Lookup(m.ID, sc.ID).Summary()
		if s.N > 0 {
			maxMed = math.Max(maxMed, s.Median/scale)
			maxW = math.Max(maxW, s.Max/scale)
		}
	}
	maxV := math.Max(maxMed, math.Min(maxW, 2*maxMed))
	// four grid steps of a round size
	axisMax := 4 * niceCeil(maxV*1.1/4)
	// grid and axis labels
	for k := 0; k <= 4; k++ {
		v := axisMax * float64(k) / 4
		y := py1 - int(float64(py1-py0)*float64(k)/4)
		c.fill(px0, y, px1, y+1, grid)
		lbl := chartLabel(v)
		c.text(px0-6-textWidth(lbl, 1), y-3, lbl, 1, black)
	}
	c.fill(px0, py0, px0+1, py1+1, black)
	c.fill(px0, py1, px1, py1+1, black)
	n := len(r.Scenarios)
	if n == 0 {
		return
	}
	slot := (px1 - px0) / n
	barW := slot * 6 / 10
	yOf := func(v float64) int { return py1 - int(float64(py1-py0)*math.Min(v, axisMax)/axisMax) }
	for i, sc := range r.Scenarios {
		cx := px0 + slot*i + slot/2
		c.centered(cx, py1+8, "("+sc.ID+")", 2, black)
		cell := r.Lookup(m.ID, sc.ID)
		s := cell.Summary()
		switch {
		case cell != nil && cell.NA != "":
			c.centered(cx, py1-14, "N/A", 1, black)
			continue
		case s.N == 0:
			if cell != nil && len(cell.Errors) > 0 {
				c.centered(cx, py1-14, "ERR", 2, red)
			}
			continue
		}
		top := yOf(s.Median / scale)
		c.fill(cx-barW/2, top, cx+barW/2, py1, scenarioColors[sc.ID])
		if s.N > 1 { // whisker
			ymin, ymax := yOf(s.Min/scale), yOf(s.Max/scale)
			c.fill(cx, ymax, cx+1, ymin+1, black)
			if s.Max/scale > axisMax { // cut: an arrow head
				for k := 0; k < 5; k++ {
					c.fill(cx-k, ymax+k, cx+k+1, ymax+k+1, black)
				}
			} else {
				c.fill(cx-4, ymax, cx+5, ymax+1, black)
			}
			c.fill(cx-4, ymin, cx+5, ymin+1, black)
		}
		lbl := chartLabel(s.Median / scale)
		ly := top - 12
		if s.N > 1 {
			ly = min(ly, yOf(s.Max/scale)-12)
		}
		c.centered(cx, max(ly, py0-2), lbl, 1, black)
	}
}
