package p2pstream_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/p2pstream/p2pstream"
)

// A peer's metrics, served for Prometheus. ListenAndServeMetrics does the
// same on an address of its own.
func ExampleNewPeerMetrics() {
	peer := &p2pstream.Peer{}
	defer peer.Close()
	metrics := p2pstream.NewPeerMetrics(peer)
	defer metrics.Close()

	h, err := p2pstream.NewMetricsHandler(metrics)
	if err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "p2pstream_peer_streams ") {
			fmt.Println(line)
		}
	}
	// Output: p2pstream_peer_streams 0
}

// Two trackers that share a Redis serve the same swarms: put them behind
// one name (docs/OPERATIONS.md). Each exports its metrics.
func ExampleTracker_redis() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	tracker := &p2pstream.Tracker{Redis: rdb, TrustProxyHeader: "X-Forwarded-For"}
	defer tracker.Close()
	ctx := context.Background()
	go p2pstream.ListenAndServeMetrics(ctx, ":9100", tracker.Collector())
	log.Fatal(tracker.ListenAndServe(":7070"))
}
