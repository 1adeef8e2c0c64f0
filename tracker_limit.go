package p2pstream

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiterIPs bounds the addresses an ipLimiter tracks. Past it, the
// buckets of addresses that have been idle long enough to refill are
// dropped (a new bucket is the same as a full one); if that frees too
// little, every bucket is: the limiter fails open rather than grow.
const maxLimiterIPs = 100_000

// ipLimiter allows each IP address a token bucket of announces.
type ipLimiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex // guards buckets
	buckets map[string]*rate.Limiter
}

func newIPLimiter(r rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{rate: r, burst: burst, buckets: make(map[string]*rate.Limiter)}
}

// allow reports whether ip may announce at now, and takes a token if so.
func (l *ipLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= maxLimiterIPs {
			l.sweepLocked(now)
		}
		b = rate.NewLimiter(l.rate, l.burst)
		l.buckets[ip] = b
	}
	return b.AllowN(now, 1)
}

// sweepLocked drops the buckets that are full again.
func (l *ipLimiter) sweepLocked(now time.Time) {
	for ip, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, ip)
		}
	}
	if len(l.buckets) >= maxLimiterIPs/2 {
		clear(l.buckets)
	}
}

// len returns the number of addresses tracked.
func (l *ipLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientHost returns the IP address r came from: the connection's, or the
// last one in the TrustProxyHeader header when that is set.
func (t *Tracker) clientHost(r *http.Request) (string, error) {
	name := t.TrustProxyHeader
	if name == "" {
		return remoteHost(r.RemoteAddr)
	}
	// Several header lines count as one comma-separated list; the proxy
	// appends the address it saw at the end, and anything before it is what
	// the client claimed.
	list := strings.Join(r.Header.Values(name), ",")
	last := strings.TrimSpace(list[strings.LastIndexByte(list, ',')+1:])
	if last == "" {
		return "", badRequest("announce: no %s header; the tracker expects requests through a proxy that sets it", name)
	}
	ip, err := netip.ParseAddr(strings.Trim(last, "[]"))
	if err != nil {
		// Some proxies add the port.
		ap, err2 := netip.ParseAddrPort(last)
		if err2 != nil {
			return "", badRequest("announce: %s header %q: want an IP address", name, last)
		}
		ip = ap.Addr()
	}
	return ip.Unmap().WithZone("").String(), nil
}

// remoteHost returns the host of an http.Request.RemoteAddr.
func remoteHost(remote string) (string, error) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil || host == "" {
		return "", badRequest("announce: cannot tell the address the announce came from (%q)", remote)
	}
	return host, nil
}
