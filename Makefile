# p2pstream: the two commands a newcomer needs.
#   make demo   installs what is missing, then runs tracker + broadcaster + 3 peers
#               (+ the viewer window when a display is present)
#   make test   the whole test suite, with -race, under Xvfb

# Debian packages the player (libVLC + ebiten), the tests (ffmpeg, Xvfb) need.
PACKAGES := libvlc-dev vlc-plugin-base vlc-plugin-video-output ffmpeg xvfb xauth \
	libgl1-mesa-dev libxcursor-dev libxi-dev libxinerama-dev libxrandr-dev \
	libxxf86vm-dev libasound2-dev pkg-config imagemagick x11-utils curl redis-server chromium

GO ?= go
FUZZTIME ?= 10s

.PHONY: demo test deps fuzz bench build clean

deps:
	@scripts/install-deps.sh $(PACKAGES)

build:
	$(GO) build -o bin/ ./examples/...

# The Redis store's tests use a redis-server on 127.0.0.1:6379; start one if none answers.
test: deps
	@redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --bind 127.0.0.1 --save '' >/dev/null
	xvfb-run -a -s "-screen 0 1280x720x24" $(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz

# Each fuzz target runs briefly. A run that fails is repeated once: Go's fuzzer sometimes
# ends with "context deadline exceeded" when a worker is busy at the deadline; a real crash
# writes its input to testdata/fuzz, so the repeat replays it and fails again.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

demo: deps build
	@scripts/demo.sh

clean:
	rm -rf bin
