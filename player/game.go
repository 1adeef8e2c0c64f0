package player

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/vector"
)

// seekStep is how far the arrow keys seek.
const seekStep = 10 * time.Second

// window is the state of the ebiten window. Only the game loop uses it,
// except audioOK, which Stats reads.
type window struct {
	started bool
	shown   *frame        // the newest picture the window took, kept for redraws
	img     *ebiten.Image // the picture, at its own size, when it is drawn scaled
	imgOf   *frame        // the picture img holds, nil after a new one came
	overlay bool
	audio   audioOut
	audioOK atomic.Bool
	lastErr string
	ctx     context.Context // Run's context: the game ends when it is done
	drawFPS atomic.Uint64   // math.Float64bits of ebiten.ActualFPS, for Stats

	// What the screen shows, to skip redrawing it when nothing changed.
	shownSize  image.Point
	shownState string
	shownText  time.Time // when the overlay's figures were drawn
	dirty      bool      // a key changed what the screen should show
}

// overlayRefresh is how often the overlay's figures are redrawn when no
// new picture comes.
const overlayRefresh = 500 * time.Millisecond

// Run opens a window titled title and plays in it until the user closes
// it, presses q or Esc, or ctx is done. It must be called from the main
// goroutine, once. It returns nil when the user quit or ctx ended it.
func (p *Player) Run(ctx context.Context, title string) error {
	p.win.ctx = ctx
	ebiten.SetWindowTitle(title)
	ebiten.SetWindowSize(1280, 720)
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	// The screen keeps its content between frames; Draw redraws it only
	// when something changed, which spares the GPU (or, under Xvfb, the
	// CPU) most of the work between video frames.
	ebiten.SetScreenClearedEveryFrame(false)
	// Frames happen only when scheduleFrames asks for one (a new picture,
	// or a few times a second while none comes) and on input (keys, the
	// window's close button, resizing). In the default mode ebiten's loop
	// runs all the time and, after every change of the screen, presents it
	// again on the next three frames too: up to four full-window passes
	// per picture instead of one, which under Xvfb (Mesa's llvmpipe:
	// OpenGL on the CPU) cost more CPU than decoding. This mode is
	// deprecated in favour of SetScreenClearedEveryFrame(false), which
	// alone does not avoid those repeats; ebiten v2 keeps it working.
	ebiten.SetFPSMode(ebiten.FPSModeVsyncOffMinimum) //nolint:staticcheck // see above
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.scheduleFrames(ctx, stop)
	}()
	err := ebiten.RunGame(p)
	close(stop)
	<-done
	p.dec.setDisplay(false)
	return err
}

// idleFrameEvery is how often a frame is scheduled while no picture
// comes, so that the state ("buffering"), the overlay's figures and the
// end of ctx still reach the window.
const idleFrameEvery = 200 * time.Millisecond

// scheduleFrames asks ebiten for a frame when a new picture is due, when
// ctx ends, and every idleFrameEvery without a picture, until stop closes.
func (p *Player) scheduleFrames(ctx context.Context, stop <-chan struct{}) {
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	idle := time.NewTimer(idleFrameEvery)
	defer idle.Stop()
	for {
		select {
		case <-stop:
			return
		case <-p.dec.fresh:
		case <-idle.C:
		case <-ctxDone:
			ctxDone = nil // Update ends the game; the idle timer keeps asking
		}
		ebiten.ScheduleFrame() //nolint:staticcheck // see Run
		idle.Reset(idleFrameEvery)
	}
}

// Update handles the keyboard; it is part of ebiten.Game. q or Esc end the
// game with ebiten.Termination.
func (p *Player) Update() error {
	if !p.win.started {
		p.win.started = true
		p.dec.setDisplay(true)
		if !p.opts.Mute {
			p.startAudio()
		}
	}
	switch {
	case p.win.ctx != nil && p.win.ctx.Err() != nil:
		return ebiten.Termination
	case inpututil.IsKeyJustPressed(ebiten.KeyQ), inpututil.IsKeyJustPressed(ebiten.KeyEscape):
		return ebiten.Termination
	case inpututil.IsKeyJustPressed(ebiten.KeyS):
		p.win.overlay = !p.win.overlay
		p.win.dirty = true
	case inpututil.IsKeyJustPressed(ebiten.KeyF):
		ebiten.SetFullscreen(!ebiten.IsFullscreen())
	case inpututil.IsKeyJustPressed(ebiten.KeySpace):
		p.report(p.SetPause(!p.dec.isPaused()))
	case inpututil.IsKeyJustPressed(ebiten.KeyLeft):
		p.report(p.Seek(-seekStep))
	case inpututil.IsKeyJustPressed(ebiten.KeyRight):
		p.report(p.Seek(seekStep))
	}
	return nil
}

// report keeps the newest key error for the overlay.
func (p *Player) report(err error) {
	if err != nil {
		p.win.lastErr = err.Error()
	}
}

// Draw shows the picture that is due, scaled to the window with its aspect
// ratio kept, and the overlay; it is part of ebiten.Game.
func (p *Player) Draw(screen *ebiten.Image) {
	p.win.drawFPS.Store(math.Float64bits(ebiten.ActualFPS()))
	fresh := false
	if f := p.dec.nextFrame(); f != nil {
		fresh = true
		if p.win.shown != nil {
			p.dec.releaseFrame(p.win.shown)
		}
		p.win.shown = f
		p.win.imgOf = nil // frames are recycled: f may be an old pointer
	}
	now := time.Now()
	size := screen.Bounds().Size()
	st := p.Stats()
	if !fresh && !p.win.dirty && size == p.win.shownSize && st.State == p.win.shownState &&
		(!p.win.overlay || now.Sub(p.win.shownText) < overlayRefresh) {
		return // the screen still shows the right thing
	}
	p.win.dirty, p.win.shownSize, p.win.shownState, p.win.shownText = false, size, st.State, now
	sw, sh := size.X, size.Y
	switch f := p.win.shown; {
	case f == nil:
		screen.Fill(color.Black)
	case f.width == sw && f.height == sh:
		// The picture is the screen's size (Layout makes the screen the
		// video's size): it goes straight into the screen, with no
		// texture of its own and no drawing pass to copy it.
		screen.WritePixels(f.pix)
	default:
		p.drawScaled(screen, f)
	}
	if st.State != StatePlaying && st.State != StatePaused {
		msg := st.State
		if st.State == StateBuffering {
			msg = "buffering…"
		}
		drawPanel(screen, msg, sw/2-len(msg)*3, sh/2)
	}
	if p.win.overlay {
		drawPanel(screen, p.overlayText(st), 8, 8)
	}
}

// DrawFinalScreen copies the screen into the window; it is part of
// ebiten.FinalScreenDrawer. It is ebiten's own final pass (nearest pixels
// at whole scales, otherwise smoothed) except that it copies instead of
// blending: the screen is opaque, and blending would read every window
// pixel back, which under Xvfb (llvmpipe) costs CPU on every frame.
func (p *Player) DrawFinalScreen(screen ebiten.FinalScreen, offscreen *ebiten.Image, geoM ebiten.GeoM) {
	op := &ebiten.DrawImageOptions{GeoM: geoM, Blend: ebiten.BlendCopy}
	if scale := geoM.Element(0, 0); math.Floor(scale) != scale {
		op.Filter = ebiten.FilterLinear
	}
	screen.DrawImage(offscreen, op)
}

// drawScaled draws f on screen scaled to fit, with its aspect ratio kept,
// on black.
func (p *Player) drawScaled(screen *ebiten.Image, f *frame) {
	if p.win.img == nil || p.win.img.Bounds().Dx() != f.width || p.win.img.Bounds().Dy() != f.height {
		if p.win.img != nil {
			p.win.img.Deallocate()
		}
		p.win.img = ebiten.NewImage(f.width, f.height)
		p.win.imgOf = nil
	}
	if p.win.imgOf != f {
		p.win.img.WritePixels(f.pix)
		p.win.imgOf = f
	}
	screen.Fill(color.Black)
	sw, sh := screen.Bounds().Dx(), screen.Bounds().Dy()
	iw, ih := f.width, f.height
	// The picture's shape is the video's, which can differ from the
	// buffer's (see LastFrame).
	vw, vh := float64(iw), float64(ih)
	if w, h := p.displaySize(); w > 0 && h > 0 {
		vw, vh = float64(w), float64(h)
	}
	scale := min(float64(sw)/vw, float64(sh)/vh)
	var op ebiten.DrawImageOptions
	op.GeoM.Scale(scale*vw/float64(iw), scale*vh/float64(ih))
	op.GeoM.Translate((float64(sw)-vw*scale)/2, (float64(sh)-vh*scale)/2)
	op.Filter = ebiten.FilterLinear
	screen.DrawImage(p.win.img, &op)
}

// overlayText is the statistics overlay: the player's figures and, when
// known, the swarm's.
func (p *Player) overlayText(st Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %dx%d  %d fps (window %.0f fps)\n", st.State, st.Width, st.Height, st.FPS, st.WindowFPS)
	fmt.Fprintf(&b, "frames decoded %d  drawn %d  dropped %d\n", st.FramesDecoded, st.FramesDrawn, st.FramesDropped)
	audio := "off"
	if st.AudioAvailable {
		audio = "on"
	}
	fmt.Fprintf(&b, "sound %s  %d Hz x%d  input %.1f MB\n", audio, st.AudioRate, st.AudioChannels, float64(st.InputBytes)/1e6)
	if p.opts.SwarmStats != nil {
		s := p.opts.SwarmStats()
		fmt.Fprintf(&b, "buffer %s  peers %d  p2p %.0f%%  continuity %.1f%%  lag %s\n",
			s.Buffered.Round(100*time.Millisecond), s.Peers, 100*s.P2PRatio(), 100*s.Continuity, s.Lag.Round(100*time.Millisecond))
	}
	if p.win.lastErr != "" {
		b.WriteString(p.win.lastErr + "\n")
	}
	b.WriteString("s overlay  f fullscreen  q quit")
	if p.Seekable() {
		b.WriteString("  space pause  <- -> seek 10s")
	}
	return b.String()
}

// Layout makes the screen the video's size (doubled while narrower than
// 640 pixels, so that the overlay stays readable); ebiten scales it to the
// window, keeping its aspect ratio, in the one pass it makes anyway. Before
// the first picture the screen is the window's size. It is part of
// ebiten.Game.
func (p *Player) Layout(outsideWidth, outsideHeight int) (int, int) {
	w, h := p.displaySize()
	if w <= 0 || h <= 0 {
		return outsideWidth, outsideHeight
	}
	for w < 640 {
		w, h = 2*w, 2*h
	}
	return w, h
}

// drawPanel prints text at (x, y) on a translucent dark panel, readable
// over any picture. The debug font is 6x16 pixels.
func drawPanel(screen *ebiten.Image, text string, x, y int) {
	lines := strings.Split(text, "\n")
	width := 0
	for _, l := range lines {
		width = max(width, len([]rune(l)))
	}
	vector.DrawFilledRect(screen, float32(x-4), float32(y-2), float32(width*6+8), float32(len(lines)*16+4),
		color.RGBA{0, 0, 0, 170}, false)
	ebitenutil.DebugPrintAt(screen, text, x, y)
}

// startAudio starts the sound output unless the Player was closed.
func (p *Player) startAudio() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.win.audioOK.Store(p.win.audio.start(p.dec))
	}
}
