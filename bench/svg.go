package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// plotSeries is one system's progress, drawn as a line.
type plotSeries struct {
	name    string
	color   string
	samples []Sample
	end     time.Duration // when it had caught up (or exited)
}

// WriteSVG draws the log's progress over time for sluice's median run and
// the JavaScript side's median run: entries in the views (top) and
// entries/s (bottom) against seconds. Hand-written SVG, no dependency.
func (lr *SyncLogReport) WriteSVG(w io.Writer) error {
	var series []plotSeries
	if len(lr.Sluice) > 0 {
		r := lr.Sluice[medianIndex(pick(lr.Sluice, func(r SluiceRun) time.Duration { return r.Wall }))]
		series = append(series, plotSeries{name: fmt.Sprintf("sluice (%s s)", seconds(r.Wall)), color: "#1f6feb", samples: r.Samples, end: sampleEnd(r.Samples, r.Wall)})
	}
	if len(lr.JS) > 0 {
		r := lr.JS[medianIndex(pick(lr.JS, func(r JSRun) time.Duration { return r.Wall }))]
		series = append(series, plotSeries{name: fmt.Sprintf("%s (%s s)", r.System, seconds(r.Wall)), color: "#d1242f", samples: r.Samples, end: r.Wall})
	}
	title := fmt.Sprintf("Initial sync of %s SSB messages (%s MB), median runs", groupInt(lr.Messages), megabytes(lr.Bytes))
	_, err := w.Write(plotSVG(title, lr.Messages, series))
	return err
}

// sampleEnd is the time of the last sample, or wall without samples.
func sampleEnd(s []Sample, wall time.Duration) time.Duration {
	if len(s) == 0 {
		return wall
	}
	return s[len(s)-1].T
}

// Layout of the plot, in SVG user units.
const (
	svgW      = 860
	svgH      = 680
	svgLeft   = 90
	svgRight  = 30
	svgPanelH = 210
	svgTop1   = 95
	svgTop2   = svgTop1 + svgPanelH + 90
)

func plotSVG(title string, total int64, series []plotSeries) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>`+"\n", svgLeft, esc(title))

	var end time.Duration
	for _, s := range series {
		end = max(end, s.end)
	}
	xMax := axisCeil(max(end.Seconds(), 0.001))
	window := time.Duration(niceCeil(min(max(end.Seconds()/30, 0.1), 1)) * float64(time.Second))
	rates := make([][]point, len(series))
	yRate := 1.0
	for i, s := range series {
		rates[i] = throughput(s.samples, s.end, window, max(window/5, time.Millisecond))
		for _, p := range rates[i] {
			yRate = max(yRate, p.Y)
		}
	}
	yProg := float64(max(total, 1))

	// Legend.
	for i, s := range series {
		x := svgLeft + i*330
		fmt.Fprintf(&b, `<line x1="%d" y1="52" x2="%d" y2="52" stroke="%s" stroke-width="3"/>`, x, x+28, s.color)
		fmt.Fprintf(&b, `<text x="%d" y="57">%s</text>`+"\n", x+36, esc(s.name))
	}

	panel := func(top int, yLabel string, yMax float64, lines [][]point, band func(px func(float64) float64)) {
		yMax = axisCeil(yMax)
		pw, ph := float64(svgW-svgLeft-svgRight), float64(svgPanelH)
		px := func(x float64) float64 { return svgLeft + x/xMax*pw }
		py := func(y float64) float64 { return float64(top) + ph - y/yMax*ph }
		fmt.Fprintf(&b, `<g stroke="#d0d7de" stroke-width="1">`)
		for _, t := range ticks(yMax) {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, svgLeft, py(t), svgW-svgRight, py(t))
		}
		for _, t := range ticks(xMax) {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, px(t), top, px(t), top+svgPanelH)
		}
		fmt.Fprintf(&b, "</g>\n")
		if band != nil {
			band(px)
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="none" stroke="#57606a"/>`+"\n", svgLeft, top, pw, svgPanelH)
		for _, t := range ticks(yMax) {
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, svgLeft-8, py(t)+4, esc(shortCount(t)))
		}
		for _, t := range ticks(xMax) {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, px(t), top+svgPanelH+18, esc(trimFloat(t)))
		}
		fmt.Fprintf(&b, "\n")
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds</text>`+"\n", svgLeft+int(pw/2), top+svgPanelH+38)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", svgLeft, top-10, esc(yLabel))
		for i, pts := range lines {
			if len(pts) == 0 {
				continue
			}
			var sb strings.Builder
			for j, p := range pts {
				if j > 0 {
					sb.WriteByte(' ')
				}
				fmt.Fprintf(&sb, "%.1f,%.1f", px(p.X), py(p.Y))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round" points="%s"/>`+"\n", series[i].color, sb.String())
		}
	}

	progress := make([][]point, len(series))
	for i, s := range series {
		progress[i] = append(progress[i], point{0, 0})
		for _, p := range s.samples {
			progress[i] = append(progress[i], point{p.T.Seconds(), float64(p.Entries)})
		}
	}
	// The first series' tail after every entry is in: for sluice, the
	// secondary index builds, the final checkpoint and close.
	var band func(px func(float64) float64)
	if len(series) > 0 && total > 0 {
		s := series[0]
		for _, p := range s.samples {
			if p.Entries >= total && p.T < s.end {
				band = func(px func(float64) float64) {
					x0, x1 := px(p.T.Seconds()), px(s.end.Seconds())
					fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="0.12"/>`, x0, svgTop1, x1-x0, svgPanelH, s.color)
					fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="%s">all entries in;</text>`, x0+4, svgTop1+svgPanelH/2-6, s.color)
					fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="%s">index builds, close</text>`+"\n", x0+4, svgTop1+svgPanelH/2+8, s.color)
				}
				break
			}
		}
	}
	panel(svgTop1, "entries in the views", yProg, progress, band)
	panel(svgTop2, fmt.Sprintf("entries/s (over %s s windows)", trimFloat(window.Seconds())), yRate, rates, nil)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
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

// axisCeil rounds v up to an axis maximum: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5,
// 6 or 8 times a power of ten.
func axisCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// ticks returns 0 and four or five evenly spaced values up to top, which
// niceCeil made.
func ticks(top float64) []float64 {
	step := niceCeil(top / 5)
	var out []float64
	for i := 0; ; i++ {
		t := float64(i) * step
		if t > top*(1+1e-9) {
			break
		}
		out = append(out, t)
	}
	return out
}

// shortCount formats an axis value: 250k, 1.5M.
func shortCount(v float64) string {
	switch {
	case v >= 1e6:
		return trimFloat(v/1e6) + "M"
	case v >= 1e3:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}

func trimFloat(v float64) string { return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) }

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
