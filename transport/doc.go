// Package transport carries p2pstream's peer connections and tracker
// requests. [TCP] is the transport of real networks. [Mem] is an in-process
// network with real-looking addresses and shaped links (latency, jitter,
// bandwidth, loss, per-host upload and download caps) on which tests and the
// swarm lab run whole swarms of peers without sockets.
//
// Both satisfy p2pstream.Transport:
//
//	type Transport interface {
//		Dial(ctx context.Context, addr string) (net.Conn, error)
//		Listen(addr string) (net.Listener, error)
//	}
//
// Package transporttest holds the conformance suite every implementation
// passes.
package transport
