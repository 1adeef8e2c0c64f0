package p2pstream

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkTrackerAnnounce measures announces per second over loopback HTTP
// with the memory store, the Redis store behind one tracker, and two
// trackers sharing one Redis (clients alternate between them); the Redis
// rates are also reported as ratios of the memory rate of the same run.
// 1,000 peers in 10 streams announce from 32 goroutines, each with its own
// keep-alive connection; every answer carries up to 30 peers. Trackers,
// clients and Redis share the machine.
//
//	go test -run '^$' -bench TrackerAnnounce -benchtime 3x .
func BenchmarkTrackerAnnounce(b *testing.B) {
	const (
		announces = 10_000 // per configuration and iteration
		workers   = 32
		peers     = 1000
		streams   = 10
	)
	rdb, prefix := testRedis(b)
	serve := func(tr *Tracker) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(b, err)
		go tr.Serve(ln)
		b.Cleanup(func() { tr.Close() })
		return "http://" + ln.Addr().String()
	}
	newTracker := func(redisPrefix string) *Tracker {
		tr := &Tracker{AnnounceRate: -1}
		if redisPrefix != "" {
			tr.Redis, tr.RedisPrefix = rdb, redisPrefix
		}
		return tr
	}
	configs := []struct {
		name string
		urls []string
	}{
		{"memory", []string{serve(newTracker(""))}},
		{"redis", []string{serve(newTracker(prefix + "one:"))}},
		{"redis-2-trackers", []string{serve(newTracker(prefix + "two:")), serve(newTracker(prefix + "two:"))}},
	}
	run := func(urls []string) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := range workers {
			c := &TrackerClient{URL: urls[w%len(urls)]}
			wg.Go(func() {
				defer c.Close()
				for {
					i := int(next.Add(1))
					if i > announces {
						return
					}
					n := i % peers
					a := Announce{
						Stream: StreamID{0: 0xbe, 1: byte(n % streams), 31: 1},
						Peer:   PeerID{0: 0xbe, 1: byte(n >> 8), 2: byte(n), 15: 1},
						Addr:   ":" + strconv.Itoa(6000+n),
						Stats:  Stats{Continuity: 1, BytesFromPeers: int64(i), Lag: time.Second},
					}
					if _, err := c.Announce(context.Background(), a); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	for _, cf := range configs {
		run(cf.urls) // fill the stores and warm the connections
	}
	took := make([]time.Duration, len(configs))
	for b.Loop() {
		for i, cf := range configs {
			took[i] += run(cf.urls)
		}
	}
	rate := func(i int) float64 { return float64(announces*b.N) / took[i].Seconds() }
	for i, cf := range configs {
		b.ReportMetric(rate(i), cf.name+"-announces/s")
	}
	b.ReportMetric(rate(1)/rate(0), "redis/memory")
	b.ReportMetric(rate(2)/rate(0), "redis-2/memory")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAnnounceSignedInfo measures what checking a live publisher's
// signed info costs the tracker: b.N announces through the handler (no
// network) from a viewer, then b.N from the publisher, whose info the
// tracker verifies (one ed25519 verification each); it reports both times
// and their ratio.
//
//	go test -run '^$' -bench AnnounceSignedInfo -benchtime 2000x .
func BenchmarkAnnounceSignedInfo(b *testing.B) {
	h := (&Tracker{AnnounceRate: -1}).Handler()
	id := testStreamID(1)
	publisher := signedAnnounce(Announce{Stream: id, Peer: testPeerID(1), Addr: ":6001", Info: liveInfo(id, "bench")})
	viewer := Announce{Stream: id, Peer: testPeerID(2), Addr: ":6002"}
	post := func(a Announce) time.Duration {
		start := time.Now()
		for range b.N {
			if rec := postAnnounceAsIs(b, h, "192.0.2.1:5000", a); rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
		return time.Since(start) / time.Duration(b.N)
	}
	post(publisher) // the stream exists before the viewer announces
	b.ResetTimer()
	v := post(viewer)
	p := post(publisher)
	b.ReportMetric(float64(v.Nanoseconds()), "viewer-ns/announce")
	b.ReportMetric(float64(p.Nanoseconds()), "publisher-ns/announce")
	b.ReportMetric(float64(p)/float64(v), "publisher/viewer")
}
