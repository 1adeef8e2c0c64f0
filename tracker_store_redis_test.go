package p2pstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRedis returns a client of the Redis at $REDIS_ADDR (default
// 127.0.0.1:6379) and a key prefix of the test's own, whose keys are
// deleted when the test ends. Without a reachable Redis the test fails in CI
// (CI set; .ci/run starts one) and is skipped elsewhere.
func testRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("redis at %s: %v (CI starts redis-server on loopback: see .ci/run)", addr, err)
		}
		t.Skipf("no redis at %s (%v): start redis-server or set REDIS_ADDR", addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "p2pstream-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

// stores returns a constructor of each trackerStore, for tests that every
// store must pass.
func stores(t *testing.T) map[string]func(ttl time.Duration, maxStreams, maxPeers int) trackerStore {
	return map[string]func(time.Duration, int, int) trackerStore{
		"memory": func(ttl time.Duration, maxStreams, maxPeers int) trackerStore {
			ms := newMemoryStore(ttl)
			ms.maxStreams, ms.maxPeers = maxStreams, maxPeers
			return ms
		},
		"redis": func(ttl time.Duration, maxStreams, maxPeers int) trackerStore {
			rdb, prefix := testRedis(t)
			return newRedisStore(rdb, prefix, ttl, maxStreams, maxPeers)
		},
	}
}

// TestStores runs the same announces against every store and checks they
// answer alike.
func TestStores(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx, id := context.Background(), testStreamID(1)
			now := time.Now().Truncate(time.Millisecond).UTC() // as JSON brings it back
			entry := func(n int, host string) PeerStatus {
				return PeerStatus{ID: testPeerID(n), Addr: net.JoinHostPort(host, strconv.Itoa(6000+n)), LastSeen: now,
					Stats: Stats{Continuity: 1, BytesFromPeers: int64(n)}}
			}

			t.Run("sources first, never self", func(t *testing.T) {
				s := newStore(time.Minute, 10, 100)
				src := entry(0, "192.0.2.1")
				src.Source = true
				res, err := s.announce(ctx, id, src, liveInfo(id, "cam"), now, 3)
				require.NoError(t, err)
				assert.True(t, res.registered)
				assert.Empty(t, res.peers)
				require.NotNil(t, res.info)
				assert.Equal(t, "cam", res.info.Name)
				for n := 1; n <= 5; n++ {
					res, err = s.announce(ctx, id, entry(n, "192.0.2.2"), nil, now, 3)
					require.NoError(t, err)
					assert.False(t, res.registered)
					require.NotNil(t, res.info, "viewers learn the info")
					require.NotEmpty(t, res.peers)
					assert.Equal(t, PeerAddr{ID: src.ID, Addr: src.Addr, Source: true}, res.peers[0], "the source comes first")
					assert.Len(t, res.peers, min(n, 3))
					for _, p := range res.peers {
						assert.NotEqual(t, testPeerID(n), p.ID)
					}
				}
				res, err = s.announce(ctx, id, src, liveInfo(id, "cam"), now, 3)
				require.NoError(t, err)
				assert.False(t, res.registered, "registered once")

				st, err := s.stream(ctx, id, now)
				require.NoError(t, err)
				assert.Len(t, st.peers, 6)
				assert.Equal(t, "cam", st.info.Name)
				list, err := s.streams(ctx, now)
				require.NoError(t, err)
				require.Len(t, list, 1)
				assert.ElementsMatch(t, st.peers, list[0].peers)
				assert.Contains(t, st.peers, entry(3, "192.0.2.2"), "entries come back whole")
			})

			t.Run("sample reaches every peer", func(t *testing.T) {
				s := newStore(time.Minute, 10, 100)
				const others = 4
				for n := range others {
					_, err := s.announce(ctx, id, entry(n, "192.0.2.1"), nil, now, 1)
					require.NoError(t, err)
				}
				counts := map[PeerID]int{}
				const draws = 400 // each peer is missed in all draws with probability (3/4)^400
				for range draws {
					res, err := s.announce(ctx, id, entry(99, "192.0.2.1"), nil, now, 1)
					require.NoError(t, err)
					require.Len(t, res.peers, 1)
					counts[res.peers[0].ID]++
				}
				assert.Len(t, counts, others)
				assert.NotContains(t, counts, testPeerID(99))
			})

			t.Run("entry belongs to its host", func(t *testing.T) {
				s := newStore(time.Minute, 10, 100)
				_, err := s.announce(ctx, id, entry(1, "192.0.2.1"), nil, now, 3)
				require.NoError(t, err)
				_, err = s.announce(ctx, id, entry(1, "198.51.100.1"), nil, now, 3)
				require.ErrorIs(t, err, errPeerElsewhere)
				require.NoError(t, s.remove(ctx, id, testPeerID(1), "198.51.100.1"))
				_, err = s.stream(ctx, id, now)
				require.NoError(t, err, "a remove from elsewhere changes nothing")
				require.NoError(t, s.remove(ctx, id, testPeerID(1), "192.0.2.1"))
				_, err = s.stream(ctx, id, now)
				require.ErrorIs(t, err, ErrStreamNotFound)
			})

			t.Run("a live stream's info is not replaced by on-demand info", func(t *testing.T) {
				s := newStore(10*time.Second, 10, 100)
				live := StreamInfo{ID: id, Kind: KindLive, Name: "live"}
				_, err := s.announce(ctx, id, entry(1, "192.0.2.1"), &live, now, 3)
				require.NoError(t, err)
				vod := StreamInfo{ID: id, Kind: KindVOD, Name: "fake"}
				_, err = s.announce(ctx, id, entry(2, "192.0.2.2"), &vod, now, 3)
				require.ErrorIs(t, err, errLiveStream)
				st, err := s.stream(ctx, id, now)
				require.NoError(t, err)
				assert.Equal(t, "live", st.info.Name)
				renamed := live
				renamed.Name = "renamed"
				_, err = s.announce(ctx, id, entry(1, "192.0.2.1"), &renamed, now, 3)
				require.NoError(t, err, "live info may change")
				// Once every entry expired, the stream is gone, and so is
				// what pinned its kind.
				later := now.Add(11 * time.Second)
				_, err = s.announce(ctx, id, entry(2, "192.0.2.2"), &vod, later, 3)
				require.NoError(t, err)
			})

			t.Run("expiry", func(t *testing.T) {
				s := newStore(10*time.Second, 10, 100)
				_, err := s.announce(ctx, id, entry(1, "192.0.2.1"), nil, now, 3)
				require.NoError(t, err)
				later := now.Add(5 * time.Second)
				p2 := entry(2, "192.0.2.1")
				p2.LastSeen = later
				_, err = s.announce(ctx, id, p2, nil, later, 3)
				require.NoError(t, err)
				st, err := s.stream(ctx, id, now.Add(10*time.Second))
				require.NoError(t, err)
				require.Len(t, st.peers, 1, "the first entry expired")
				assert.Equal(t, testPeerID(2), st.peers[0].ID)
				_, err = s.stream(ctx, id, now.Add(15*time.Second))
				require.ErrorIs(t, err, ErrStreamNotFound)
				list, err := s.streams(ctx, now.Add(15*time.Second))
				require.NoError(t, err)
				assert.Empty(t, list)
			})

			t.Run("limits", func(t *testing.T) {
				s := newStore(time.Minute, 2, 3)
				for n := range 3 {
					_, err := s.announce(ctx, id, entry(n, "192.0.2.1"), nil, now, 3)
					require.NoError(t, err)
				}
				_, err := s.announce(ctx, id, entry(3, "192.0.2.1"), nil, now, 3)
				require.ErrorIs(t, err, errTrackerFull, "a fourth peer")
				_, err = s.announce(ctx, id, entry(2, "192.0.2.1"), nil, now, 3)
				require.NoError(t, err, "a known peer")
				_, err = s.announce(ctx, testStreamID(2), entry(0, "192.0.2.1"), nil, now, 3)
				require.NoError(t, err)
				_, err = s.announce(ctx, testStreamID(3), entry(0, "192.0.2.1"), nil, now, 3)
				require.ErrorIs(t, err, errTrackerFull, "a third stream")
			})
		})
	}
}

// TestRedisStoreKeysExpire: every key the store writes carries the TTL, and
// is gone once it has passed.
func TestRedisStoreKeysExpire(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx, id := context.Background(), testStreamID(1)
	const ttl = 400 * time.Millisecond
	s := newRedisStore(rdb, prefix, ttl, 10, 10)
	now := time.Now()
	src := PeerStatus{ID: testPeerID(0), Addr: "192.0.2.1:6000", Source: true, LastSeen: now}
	_, err := s.announce(ctx, id, src, liveInfo(id, "cam"), now, 3)
	require.NoError(t, err)
	_, err = s.announce(ctx, id, PeerStatus{ID: testPeerID(1), Addr: "192.0.2.2:6000", LastSeen: now}, nil, now, 3)
	require.NoError(t, err)

	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 6, "streams, peers, sources, two entries, info: %v", keys)
	for _, k := range keys {
		left, err := rdb.PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.True(t, left > 0 && left <= ttl, "%s expires in %v", k, left)
	}
	require.Eventually(t, func() bool {
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		return err == nil && len(keys) == 0
	}, 10*time.Second, 50*time.Millisecond, "keys expire with the TTL")
}

// TestTrackersShareRedis: two trackers on one Redis serve one swarm; a peer
// announced to one is returned by the other.
func TestTrackersShareRedis(t *testing.T) {
	rdb, prefix := testRedis(t)
	var urls [2]string
	for i := range urls {
		urls[i], _ = serveTracker(t, &Tracker{Redis: rdb, RedisPrefix: prefix, MaxPeers: 50})
	}
	a, b := newTestClient(t, urls[0]), newTestClient(t, urls[1])
	id := testStreamID(7)

	resp := announce(t, a, id, 0, liveInfo(id, "shared"))
	assert.Empty(t, resp.Peers)
	resp = announce(t, b, id, 1, nil)
	require.Len(t, resp.Peers, 1, "tracker B knows the source announced to A")
	assert.Equal(t, PeerAddr{ID: testPeerID(0), Addr: "127.0.0.1:6000", Source: true}, resp.Peers[0])
	require.NotNil(t, resp.Info)
	assert.Equal(t, "shared", resp.Info.Name)

	resp = announce(t, a, id, 2, nil)
	assert.ElementsMatch(t, []PeerAddr{
		{ID: testPeerID(0), Addr: "127.0.0.1:6000", Source: true},
		{ID: testPeerID(1), Addr: "127.0.0.1:6001"},
	}, resp.Peers, "tracker A knows the viewer announced to B")

	for _, c := range []*TrackerClient{a, b} {
		st, err := c.Stream(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, 3, st.Peers)
		assert.Equal(t, "shared", st.Info.Name)
	}

	_, err := b.Announce(context.Background(), Announce{Stream: id, Peer: testPeerID(1), Event: eventStopped})
	require.NoError(t, err)
	st, err := a.Stream(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Peers, "a stop sent to B removes the entry for A too")
}

// TestRedisStoreScriptsFlushed: a Redis that has lost the store's scripts
// (restarted, or SCRIPT FLUSH) is given them again.
func TestRedisStoreScriptsFlushed(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx, id, now := context.Background(), testStreamID(1), time.Now()
	s := newRedisStore(rdb, prefix, time.Minute, 10, 10)
	for i := range 2 {
		require.NoError(t, rdb.ScriptFlush(ctx).Err())
		_, err := s.announce(ctx, id, PeerStatus{ID: testPeerID(i), Addr: "192.0.2.1:6000", LastSeen: now}, nil, now, 3)
		require.NoError(t, err)
		require.NoError(t, rdb.ScriptFlush(ctx).Err())
		list, err := s.streams(ctx, now)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Len(t, list[0].peers, i+1)
	}
}
