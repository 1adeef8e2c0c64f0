package p2pstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Limits of the tracker client.
const (
	// trackerRequestTimeout bounds a request whose context has no deadline,
	// so that a stuck tracker cannot hang a caller for ever.
	trackerRequestTimeout = 30 * time.Second
	maxAnnounceResponse   = 1 << 20  // bytes of an announce answer
	maxStatusResponse     = 32 << 20 // bytes of a streams listing
	maxErrorSnippet       = 200      // bytes of an error body quoted in errors
)

// TrackerClient talks to a [Tracker] over HTTP. The zero value with URL set
// is ready to use; it is safe for concurrent use. Call Close when done with
// it to close its idle connections.
type TrackerClient struct {
	// URL is the tracker's base URL, e.g. "http://127.0.0.1:7070".
	URL string
	// Transport dials the tracker; if nil, plain TCP (through the proxy
	// that HTTP_PROXY and friends name, if any).
	Transport Transport

	once sync.Once // builds hc on first use
	hc   *http.Client
}

// TrackerError is a tracker's answer other than 200 OK: Status is its HTTP
// status; the message names the request and quotes the tracker's.
type TrackerError struct {
	Status int
	msg    string
}

func (e *TrackerError) Error() string { return e.msg }

// Refused reports whether the tracker refused the request itself (a 4xx
// status other than 404 and 429): sending it again will not help.
func (e *TrackerError) Refused() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusNotFound && e.Status != http.StatusTooManyRequests
}

// Announce posts a to the tracker and returns its answer.
func (c *TrackerClient) Announce(ctx context.Context, a Announce) (AnnounceResponse, error) {
	body, err := json.Marshal(a)
	if err != nil {
		return AnnounceResponse{}, fmt.Errorf("p2pstream: tracker announce: %w", err)
	}
	var resp AnnounceResponse
	if _, err := c.do(ctx, http.MethodPost, "/announce", body, maxAnnounceResponse, &resp); err != nil {
		return AnnounceResponse{}, err
	}
	return resp, nil
}

// Streams returns every stream the tracker knows, without peer lists.
func (c *TrackerClient) Streams(ctx context.Context) ([]StreamStatus, error) {
	var list []StreamStatus
	if _, err := c.do(ctx, http.MethodGet, "/streams", nil, maxStatusResponse, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// Stream returns one stream with its peer list, or an error wrapping
// ErrStreamNotFound if the tracker does not know it.
func (c *TrackerClient) Stream(ctx context.Context, id StreamID) (StreamStatus, error) {
	var st StreamStatus
	status, err := c.do(ctx, http.MethodGet, "/streams/"+id.String(), nil, maxStatusResponse, &st)
	if status == http.StatusNotFound {
		return StreamStatus{}, fmt.Errorf("p2pstream: tracker %s: stream %s: %w", c.URL, id.Short(), ErrStreamNotFound)
	}
	if err != nil {
		return StreamStatus{}, err
	}
	return st, nil
}

// Close closes the client's idle connections. The client stays usable.
func (c *TrackerClient) Close() {
	c.client().CloseIdleConnections()
}

// client returns the HTTP client, made on first use.
func (c *TrackerClient) client() *http.Client {
	c.once.Do(func() {
		tr := &http.Transport{
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: trackerRequestTimeout,
		}
		if c.Transport == nil {
			d := &net.Dialer{Timeout: trackerRequestTimeout, KeepAlive: 30 * time.Second}
			tr.DialContext = d.DialContext
			tr.Proxy = http.ProxyFromEnvironment
		} else {
			dial := c.Transport.Dial
			tr.DialContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dial(ctx, addr)
			}
		}
		c.hc = &http.Client{Transport: tr, Timeout: trackerRequestTimeout}
	})
	return c.hc
}

// do sends one request and decodes a 200 answer's JSON body, at most limit
// bytes, into v. It returns the HTTP status (0 if there was no answer).
func (c *TrackerClient) do(ctx context.Context, method, path string, body []byte, limit int64, v any) (int, error) {
	if c.URL == "" {
		return 0, errors.New("p2pstream: TrackerClient.URL is empty")
	}
	url := strings.TrimRight(c.URL, "/") + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, fmt.Errorf("p2pstream: tracker %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		// An announce is idempotent. Saying so lets net/http retry it on a
		// fresh connection when a kept-alive one turns out dead, as it does
		// after a tracker restart. A nil value marks it without sending it.
		req.Header["Idempotency-Key"] = nil
	}
	resp, err := c.client().Do(req)
	if err != nil {
		// err already names the method and the URL.
		return 0, fmt.Errorf("p2pstream: tracker: %w", err)
	}
	defer resp.Body.Close()

	// Read one byte past the limit to tell a full body from a cut one.
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("p2pstream: tracker %s %s: reading the answer: %w", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, &TrackerError{Status: resp.StatusCode,
			msg: fmt.Sprintf("p2pstream: tracker %s %s: %s: %s", method, url, resp.Status, errorMessage(data))}
	}
	if int64(len(data)) > limit {
		return resp.StatusCode, fmt.Errorf("p2pstream: tracker %s %s: answer larger than %d bytes", method, url, limit)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return resp.StatusCode, fmt.Errorf("p2pstream: tracker %s %s: bad JSON answer (%v): %s", method, url, err, snippet(data))
	}
	return resp.StatusCode, nil
}

// errorMessage returns the message of an error answer: the "error" field of
// the tracker's JSON, or the start of whatever else the body holds (a proxy's
// HTML page, say).
func errorMessage(body []byte) string {
	var e errorBody
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return snippet([]byte(e.Error))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "empty body"
	}
	return snippet(body)
}

// snippet returns the start of b as one printable line.
func snippet(b []byte) string {
	cut := len(b) > maxErrorSnippet
	if cut {
		b = b[:maxErrorSnippet]
	}
	// A character cut in two becomes "?", like any other invalid byte.
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if cut {
		s += "…"
	}
	return fmt.Sprintf("%q", s)
}
