package p2pstream_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// After answering a request whose body it did not read to the end
		// (an oversized announce), net/http's server lingers 500 ms before
		// closing the connection, so the client sees the answer rather than
		// a reset. That goroutine ends by itself.
		goleak.IgnoreAnyFunction("net/http.(*conn).closeWriteAndWait"),
	)
}
