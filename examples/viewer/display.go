package main

/*
#include <stdio.h>
#include <stdlib.h>

// ebiten panics while Go initialises its packages when there is no display,
// before main can say anything. This C constructor runs when the program is
// loaded, before Go starts, and explains instead.
__attribute__((constructor)) static void p2ps_require_display(void) {
	// ebiten's GLFW is built for X11 only: a Wayland session needs XWayland,
	// which sets DISPLAY.
	const char *x = getenv("DISPLAY");
	if (x != NULL && *x != 0)
		return;
	fputs("viewer: no display (DISPLAY is unset): the viewer needs a window.\n"
	      "  On a server run `go run ./examples/peer -http :8081` and open\n"
	      "  http://HOST:8081/ in VLC, mpv or ffplay; or run the viewer under xvfb-run.\n", stderr);
	exit(1);
}
*/
import "C"
