package lab

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ManyConns opens n TCP connections to dst:port at once (gvs-lab conns),
// holds them all open until every one is established, then sends an
// HTTP/1.0 request on each and reads the answer. It returns how many
// completed and how many each real server answered.
func ManyConns(dst netip.AddrPort, n int, srcs []netip.Addr) (int, map[string]int, error) {
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := net.Dialer{Timeout: 10 * time.Second}
			if len(srcs) > 0 {
				d.LocalAddr = &net.TCPAddr{IP: srcs[i%len(srcs)].AsSlice()}
			}
			c, err := d.Dial("tcp", dst.String())
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	close(errs)
	var firstErr error
	for err := range errs {
		if firstErr == nil {
			firstErr = err
		}
	}
	var mu sync.Mutex
	count := map[string]int{}
	done := 0
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
			r := bufio.NewReader(c)
			var body string
			inBody := false
			for {
				line, err := r.ReadString('\n')
				if inBody && len(line) > 0 {
					body = strings.TrimSpace(line)
				}
				if line == "\r\n" {
					inBody = true
				}
				if err != nil {
					break
				}
			}
			if strings.HasPrefix(body, "rs") {
				mu.Lock()
				count[body]++
				done++
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	return done, count, firstErr
}
