package p2pstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisStore is a trackerStore in a Redis server, so that several trackers
// that share it serve the same swarms. Each announce and each read of a
// stream is one Lua script, so it is atomic and costs one round trip.
//
// Keys, after the prefix (every one expires TTL after the last write):
//
//	streams               sorted set: stream ID -> last announce (Unix ms)
//	s:{stream}:peers      sorted set: peer ID -> last announce (Unix ms)
//	s:{stream}:src        sorted set: the stream's sources, likewise
//	s:{stream}:p:{peer}   string: "host\naddr\n" + the entry as JSON
//	s:{stream}:info       string: the stream's info as JSON
//
// The sorted sets let the scripts drop expired members by score; the entry
// strings expire on their own. IDs are in hex. Times in scores are the
// tracker's clock; key expiry is Redis's.
type redisStore struct {
	rdb        *redis.Client
	prefix     string
	ttl        time.Duration
	maxStreams int
	maxPeers   int
}

func newRedisStore(rdb *redis.Client, prefix string, ttl time.Duration, maxStreams, maxPeers int) *redisStore {
	return &redisStore{rdb: rdb, prefix: prefix, ttl: ttl, maxStreams: maxStreams, maxPeers: maxPeers}
}

// Errors the scripts answer with.
const (
	redisErrFull      = "P2PSTREAM_FULL"
	redisErrElsewhere = "P2PSTREAM_ELSEWHERE"
	redisErrLive      = "P2PSTREAM_LIVE"
)

// announceScript records an announce and answers with the sample.
//
// KEYS: streams, peers, src, entry, info.
// ARGV: stream, peer, host, entry value, now (ms), ttl (ms), max answered,
// max streams, max peers per stream, "1" if source, info JSON or "",
// entry key prefix, info kind or "".
//
// It returns {registered (0 or 1), info JSON or false, then for each peer
// answered: ID, addr, "1" if source or "0"}.
var announceScript = redis.NewScript(`
local now, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local cutoff = now - ttl
local function host(entry)
  return string.sub(entry, 1, string.find(entry, "\n", 1, true) - 1)
end
local function addr(entry)
  local a = string.find(entry, "\n", 1, true)
  local b = string.find(entry, "\n", a + 1, true)
  return string.sub(entry, a + 1, b - 1)
end

local old = redis.call("GET", KEYS[4])
if old and host(old) ~= ARGV[3] then
  return redis.error_reply("` + redisErrElsewhere + `")
end
if ARGV[11] ~= "" and ARGV[13] ~= "live" then
  local info = redis.call("GET", KEYS[5])
  if info and string.find(info, '"kind":"live"', 1, true) and redis.call("ZCOUNT", KEYS[2], "(" .. cutoff, "+inf") > 0 then
    return redis.error_reply("` + redisErrLive + `")
  end
end
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", cutoff)
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", cutoff)
redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", cutoff)
if not redis.call("ZSCORE", KEYS[1], ARGV[1]) and redis.call("ZCARD", KEYS[1]) >= tonumber(ARGV[8]) then
  return redis.error_reply("` + redisErrFull + `")
end
local known = redis.call("ZSCORE", KEYS[2], ARGV[2])
local count = redis.call("ZCARD", KEYS[2])
if not known and count >= tonumber(ARGV[9]) then
  return redis.error_reply("` + redisErrFull + `")
end
if count == 0 then
  -- New, or every entry expired: a stream without peers is gone, and so
  -- is its info.
  redis.call("DEL", KEYS[5])
end

-- The sample: sources first, then random others.
local max = tonumber(ARGV[7])
local ids, srcflag, taken = {}, {}, {}
local sources = redis.call("ZRANGE", KEYS[3], 0, -1)
for _, id in ipairs(sources) do
  taken[id] = true
  if id ~= ARGV[2] and #ids < max then
    ids[#ids + 1] = id
    srcflag[#ids] = "1"
  end
end
if #ids < max and count > 0 then
  local draw = redis.call("ZRANDMEMBER", KEYS[2], max - #ids + #sources + 1)
  for _, id in ipairs(draw) do
    if #ids >= max then break end
    if id ~= ARGV[2] and not taken[id] then
      ids[#ids + 1] = id
      srcflag[#ids] = "0"
    end
  end
end
local out = {0, false}
if #ids > 0 then
  local keys = {}
  for i, id in ipairs(ids) do keys[i] = ARGV[12] .. id end
  local entries = redis.call("MGET", unpack(keys))
  for i, e in ipairs(entries) do
    if e then
      out[#out + 1] = ids[i]
      out[#out + 1] = addr(e)
      out[#out + 1] = srcflag[i]
    end
  end
end

redis.call("SET", KEYS[4], ARGV[4], "PX", ttl)
redis.call("ZADD", KEYS[2], now, ARGV[2])
redis.call("PEXPIRE", KEYS[2], ttl)
if ARGV[10] == "1" then
  redis.call("ZADD", KEYS[3], now, ARGV[2])
  redis.call("PEXPIRE", KEYS[3], ttl)
else
  redis.call("ZREM", KEYS[3], ARGV[2])
end
redis.call("ZADD", KEYS[1], now, ARGV[1])
redis.call("PEXPIRE", KEYS[1], ttl)
if ARGV[11] ~= "" then
  if redis.call("EXISTS", KEYS[5]) == 0 then out[1] = 1 end
  redis.call("SET", KEYS[5], ARGV[11], "PX", ttl)
else
  -- The info lives as long as the stream's last entry.
  redis.call("PEXPIRE", KEYS[5], ttl)
end
out[2] = redis.call("GET", KEYS[5])
return out
`)

// removeScript deletes an entry if host made it.
//
// KEYS: streams, peers, src, entry, info. ARGV: stream, peer, host.
var removeScript = redis.NewScript(`
local old = redis.call("GET", KEYS[4])
if old and string.sub(old, 1, string.find(old, "\n", 1, true) - 1) == ARGV[3] then
  redis.call("DEL", KEYS[4])
  redis.call("ZREM", KEYS[2], ARGV[2])
  redis.call("ZREM", KEYS[3], ARGV[2])
end
if redis.call("ZCARD", KEYS[2]) == 0 then
  redis.call("DEL", KEYS[2], KEYS[3], KEYS[5])
  redis.call("ZREM", KEYS[1], ARGV[1])
end
return 0
`)

// readScript returns one stream's info and live entries.
//
// KEYS: peers, info. ARGV: cutoff (ms; entries at or before it have
// expired), entry key prefix.
//
// It returns {info JSON or false, entry...}.
var readScript = redis.NewScript(`
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. ARGV[1], "+inf")
local out = {redis.call("GET", KEYS[2])}
for i = 1, #ids, 1000 do
  local keys = {}
  for j = i, math.min(i + 999, #ids) do keys[#keys + 1] = ARGV[2] .. ids[j] end
  for _, e in ipairs(redis.call("MGET", unpack(keys))) do
    if e then out[#out + 1] = e end
  end
end
return out
`)

// keys returns the keys of stream id, in the order the scripts take them.
func (s *redisStore) keys(id StreamID, peer PeerID) []string {
	base := s.prefix + "s:" + id.String()
	return []string{s.prefix + "streams", base + ":peers", base + ":src", base + ":p:" + peer.String(), base + ":info"}
}

func (s *redisStore) entryPrefix(id StreamID) string {
	return s.prefix + "s:" + id.String() + ":p:"
}

func (s *redisStore) announce(ctx context.Context, id StreamID, p PeerStatus, info *StreamInfo, now time.Time, limit int) (announceResult, error) {
	entry, err := json.Marshal(p)
	if err != nil {
		return announceResult{}, err
	}
	var infoJSON []byte
	if info != nil {
		if infoJSON, err = json.Marshal(info); err != nil {
			return announceResult{}, err
		}
	}
	source := "0"
	if p.Source {
		source = "1"
	}
	var kind Kind
	if info != nil {
		kind = info.Kind
	}
	reply, err := announceScript.Run(ctx, s.rdb, s.keys(id, p.ID),
		id.String(), p.ID.String(), addrHost(p.Addr), addrHost(p.Addr)+"\n"+p.Addr+"\n"+string(entry),
		now.UnixMilli(), max(1, s.ttl.Milliseconds()), limit, s.maxStreams, s.maxPeers, source, string(infoJSON),
		s.entryPrefix(id), string(kind),
	).Slice()
	if err != nil {
		return announceResult{}, redisError(err)
	}
	if len(reply) < 2 || (len(reply)-2)%3 != 0 {
		return announceResult{}, fmt.Errorf("p2pstream: redis store: unexpected announce reply of %d values", len(reply))
	}
	res := announceResult{registered: reply[0] == int64(1), peers: make([]PeerAddr, 0, (len(reply)-2)/3)}
	if v, ok := reply[1].(string); ok {
		res.info = new(StreamInfo)
		if err := json.Unmarshal([]byte(v), res.info); err != nil {
			return announceResult{}, fmt.Errorf("p2pstream: redis store: stream info: %w", err)
		}
	}
	for i := 2; i < len(reply); i += 3 {
		var pa PeerAddr
		idHex, _ := reply[i].(string)
		if err := pa.ID.UnmarshalText([]byte(idHex)); err != nil {
			return announceResult{}, fmt.Errorf("p2pstream: redis store: peer ID %q: %w", idHex, err)
		}
		pa.Addr, _ = reply[i+1].(string)
		pa.Source = reply[i+2] == "1"
		res.peers = append(res.peers, pa)
	}
	return res, nil
}

func (s *redisStore) remove(ctx context.Context, id StreamID, peer PeerID, host string) error {
	err := removeScript.Run(ctx, s.rdb, s.keys(id, peer), id.String(), peer.String(), host).Err()
	return redisError(err)
}

func (s *redisStore) streams(ctx context.Context, now time.Time) ([]storedStream, error) {
	cutoff := now.Add(-s.ttl).UnixMilli()
	hexIDs, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.prefix + "streams", Start: "(" + strconv.FormatInt(cutoff, 10), Stop: "+inf", ByScore: true,
	}).Result()
	if err != nil {
		return nil, redisError(err)
	}
	ids := make([]StreamID, 0, len(hexIDs))
	for _, h := range hexIDs {
		var id StreamID
		if id.UnmarshalText([]byte(h)) == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// One pipeline of scripts: one round trip for every stream. A Redis
	// that does not know the script yet (or any more, after a restart) is
	// given it, and asked again.
	cmds := make([]*redis.Cmd, len(ids))
	read := func() error {
		_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, id := range ids {
				k := s.keys(id, PeerID{})
				cmds[i] = readScript.EvalSha(ctx, pipe, []string{k[1], k[4]}, cutoff, s.entryPrefix(id))
			}
			return nil
		})
		return err
	}
	err = read()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err = readScript.Load(ctx, s.rdb).Err(); err == nil {
			err = read()
		}
	}
	if err != nil {
		return nil, redisError(err)
	}
	out := make([]storedStream, 0, len(ids))
	for i, cmd := range cmds {
		st, err := parseStoredStream(ids[i], cmd)
		if err != nil {
			return nil, err
		}
		if len(st.peers) > 0 {
			out = append(out, st)
		}
	}
	return out, nil
}

func (s *redisStore) stream(ctx context.Context, id StreamID, now time.Time) (storedStream, error) {
	k := s.keys(id, PeerID{})
	cmd := readScript.Run(ctx, s.rdb, []string{k[1], k[4]}, now.Add(-s.ttl).UnixMilli(), s.entryPrefix(id))
	st, err := parseStoredStream(id, cmd)
	if err != nil {
		return storedStream{}, err
	}
	if len(st.peers) == 0 {
		return storedStream{}, ErrStreamNotFound
	}
	return st, nil
}

// parseStoredStream decodes a readScript reply.
func parseStoredStream(id StreamID, cmd *redis.Cmd) (storedStream, error) {
	reply, err := cmd.Slice()
	if err != nil {
		return storedStream{}, redisError(err)
	}
	st := storedStream{id: id, peers: make([]PeerStatus, 0, max(0, len(reply)-1))}
	if len(reply) == 0 {
		return st, nil
	}
	if v, ok := reply[0].(string); ok {
		st.info = new(StreamInfo)
		if err := json.Unmarshal([]byte(v), st.info); err != nil {
			return storedStream{}, fmt.Errorf("p2pstream: redis store: stream info: %w", err)
		}
	}
	for _, v := range reply[1:] {
		e, _ := v.(string)
		// Skip "host\naddr\n".
		_, rest, ok1 := strings.Cut(e, "\n")
		_, js, ok2 := strings.Cut(rest, "\n")
		var p PeerStatus
		if !ok1 || !ok2 || json.Unmarshal([]byte(js), &p) != nil {
			return storedStream{}, fmt.Errorf("p2pstream: redis store: malformed entry in stream %s", id.Short())
		}
		st.peers = append(st.peers, p)
	}
	return st, nil
}

// redisError turns the scripts' error replies into the store's errors.
func redisError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, redisErrFull):
		return errTrackerFull
	case strings.Contains(msg, redisErrElsewhere):
		return errPeerElsewhere
	case strings.Contains(msg, redisErrLive):
		return errLiveStream
	case errors.Is(err, redis.Nil):
		return nil
	}
	return fmt.Errorf("p2pstream: redis store: %w", err)
}
