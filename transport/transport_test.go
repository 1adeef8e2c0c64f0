package transport_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/p2pstream/p2pstream/transport"
	"github.com/p2pstream/p2pstream/transport/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTCPConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (transporttest.Transport, transporttest.Transport, string) {
		return transport.TCP{}, transport.TCP{}, "127.0.0.1:0"
	})
}

func TestMemConformance(t *testing.T) {
	tests := []struct {
		name string
		link transport.Link
	}{
		{"Perfect", transport.Link{}},
		{"Shaped", transport.Link{Latency: time.Millisecond, Jitter: time.Millisecond, Bandwidth: 100 << 20, Loss: 0.001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			transporttest.Run(t, func(t *testing.T) (transporttest.Transport, transporttest.Transport, string) {
				m := transport.NewMem()
				t.Cleanup(func() { m.Close() })
				m.SetDefaultLink(tt.link)
				return m.Host("10.0.0.1"), m.Host("10.0.0.2"), ":0"
			})
		})
	}
}

func TestMemAsTransportConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) (transporttest.Transport, transporttest.Transport, string) {
		m := transport.NewMem()
		t.Cleanup(func() { m.Close() })
		return m, m, "127.0.0.1:0"
	})
}
