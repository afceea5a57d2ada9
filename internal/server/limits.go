package server

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// limitInFlight answers 503 with Retry-After to a request that finds
// MaxInFlight others being answered, instead of letting a crowd of clients
// pile up goroutines and memory. Watch streams, which stay open for as
// long as their clients like, are bounded by MaxWatchers instead.
func (s *Server) limitInFlight(next http.Handler) http.Handler {
	if s.inFlight == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/events/watch" || r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case s.inFlight <- struct{}{}:
			defer func() { <-s.inFlight }()
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
			writeError(w, http.StatusServiceUnavailable,
				"the server is answering as many requests as it may ("+strconv.Itoa(cap(s.inFlight))+"): try again")
		}
	})
}

// limitConns wraps ln so that at most MaxConns client connections are open
// at once. A connection beyond that is answered with a plain HTTP 503 and
// closed (over TLS, where no plain answer can be read, just closed).
func (s *Server) limitConns(ln net.Listener, tls bool) net.Listener {
	if s.opts.MaxConns <= 0 {
		return ln
	}
	return &connLimiter{Listener: ln, max: int64(s.opts.MaxConns), tls: tls, s: s}
}

type connLimiter struct {
	net.Listener
	max  int64
	open atomic.Int64
	tls  bool
	s    *Server
}

// busyAnswer is what a connection over the limit reads before it is closed.
const busyAnswer = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 73\r\n\r\n" +
	`{"error":"the server has as many connections open as it may: try again"}` + "\n"

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, release: func() { l.open.Add(-1) }}, nil
		}
		l.open.Add(-1)
		l.s.log.Warn("connection refused: too many open", "max", l.max, "ip", c.RemoteAddr().String())
		go func() {
			if !l.tls {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write([]byte(busyAnswer))
			}
			c.Close()
		}()
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
