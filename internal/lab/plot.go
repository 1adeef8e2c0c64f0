package lab

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot draws continuity, lag and source upload over time for each result
// (p2p and client-server side by side) into a PNG file.
func Plot(path, title string, results ...Result) error {
	panels := []struct {
		name string
		y    func(Sample) float64
	}{
		{"continuity (last 1 s)", func(s Sample) float64 { return s.Continuity }},
		{"lag p50 (s)", func(s Sample) float64 { return s.LagP50.Seconds() }},
		{"source upload (x stream)", func(s Sample) float64 { return s.SourceUpload }},
	}
	colors := []color.Color{color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 255}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 255}}
	img := vgimg.New(vg.Points(900), vg.Points(270*float64(len(panels))))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter * 2, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	plots := make([][]*plot.Plot, len(panels))
	for i, panel := range panels {
		p := plot.New()
		plots[i] = []*plot.Plot{p}
		if i == 0 {
			p.Title.Text = title + "\n" + panel.name
		} else {
			p.Title.Text = panel.name
		}
		p.X.Label.Text = "time (s)"
		p.Add(plotter.NewGrid())
		for j, r := range results {
			if len(r.Series) == 0 {
				continue
			}
			pts := make(plotter.XYs, len(r.Series))
			for k, s := range r.Series {
				pts[k].X, pts[k].Y = s.T.Seconds(), panel.y(s)
			}
			line, err := plotter.NewLine(pts)
			if err != nil {
				return err
			}
			line.Color = colors[j%len(colors)]
			line.Width = vg.Points(1.5)
			p.Add(line)
			p.Legend.Add(r.Mode, line)
		}
		p.Legend.Top = true
	}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
