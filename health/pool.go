package health

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"
)

// clock is time as the Manager sees it; tests swap in a manual one.
type clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; the returned
	// function stops the timer.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// job is one scheduled check attempt of a destination; gen tells stale
// jobs (of a check since stopped or replaced) from live ones.
type job struct {
	d   *dest
	gen uint64
}

// pool runs check attempts on a fixed number of workers. A destination
// has at most one attempt queued or running, so the queue is bounded by
// the number of destinations; sockets in flight are bounded by the workers.
type pool struct {
	mu      sync.Mutex
	cond    *sync.Cond // work queued, or closed
	idle    *sync.Cond // busy reached 0
	queue   []job
	busy    int // queued + running
	running int
	peak    int
	closed  bool
	wg      sync.WaitGroup
	workers int // the bound
	started int // workers started so far (lazily, up to the bound)
	idleN   int // workers waiting for work
	run     func(job)

	abandoned int64 // attempts whose checker ignored its deadline
}

func newPool(workers int, run func(job)) *pool {
	p := &pool{workers: workers, run: run}
	p.cond = sync.NewCond(&p.mu)
	p.idle = sync.NewCond(&p.mu)
	return p
}

func (p *pool) push(j job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.queue = append(p.queue, j)
	p.busy++
	if len(p.queue) > p.idleN && p.started < p.workers { // more work than idle workers
		p.started++
		p.wg.Add(1)
		go p.worker()
		return
	}
	p.cond.Signal()
}

func (p *pool) worker() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.idleN++
			p.cond.Wait()
			p.idleN--
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		j := p.queue[0]
		p.queue[0] = job{}
		p.queue = p.queue[1:]
		p.running++
		p.peak = max(p.peak, p.running)
		p.mu.Unlock()

		p.run(j)

		p.mu.Lock()
		p.running--
		p.busy--
		if p.busy == 0 {
			p.idle.Broadcast()
		}
		p.mu.Unlock()
	}
}

// waitIdle waits until nothing is queued or running (tests).
func (p *pool) waitIdle() {
	p.mu.Lock()
	for p.busy > 0 && !p.closed {
		p.idle.Wait()
	}
	p.mu.Unlock()
}

func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.queue = nil
	p.cond.Broadcast()
	p.idle.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// PoolStats describes the check worker pool.
type PoolStats struct {
	Workers     int   `json:"workers"`      // the bound on concurrent checks (and their sockets)
	Queued      int   `json:"queued"`       // attempts due and waiting for a worker
	Running     int   `json:"running"`      // attempts in progress
	PeakRunning int   `json:"peak_running"` // most attempts ever in progress at once
	Abandoned   int64 `json:"abandoned"`    // attempts whose checker ignored its deadline
}

func (p *pool) stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Workers: p.workers, Queued: len(p.queue), Running: p.running, PeakRunning: p.peak, Abandoned: p.abandoned}
}

// abandonGrace is how long after its deadline a checker may take to return
// before its attempt is abandoned and reported as an error.
var abandonGrace = time.Second

// runChecker runs one attempt with its timeout. A panic, or a checker that
// does not return within abandonGrace after its deadline, gives Error: the
// worker moves on (an abandoned checker's goroutine is left to finish).
func (p *pool) runChecker(parent context.Context, c Checker, e Endpoint, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	ch := make(chan Result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				ch <- internal(fmt.Errorf("checker panic: %v\n%s", v, firstLines(debug.Stack(), 12)))
			}
		}()
		r := c.Check(ctx, e)
		if r.Health != Up && r.Health != Down && r.Health != Error {
			r = internal(fmt.Errorf("checker returned health %q", r.Health))
		}
		ch <- r
	}()
	select {
	case r := <-ch:
		return timedOut(ctx, r, timeout)
	case <-ctx.Done():
	}
	t := time.NewTimer(abandonGrace)
	defer t.Stop()
	select {
	case r := <-ch:
		return timedOut(ctx, r, timeout)
	case <-t.C:
		p.mu.Lock()
		p.abandoned++
		p.mu.Unlock()
		return internal(fmt.Errorf("checker did not return within %v of its %v timeout", abandonGrace, timeout))
	}
}

// timedOut words a failure that came with the deadline as a timeout (the
// checker may have seen only its socket closed under it).
func timedOut(ctx context.Context, r Result, timeout time.Duration) Result {
	if r.Health == Down && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.Err = fmt.Errorf("timed out after %v: %w", timeout, r.Err)
	}
	return r
}

func firstLines(b []byte, n int) string {
	s := string(b)
	for i, c := 0, 0; i < len(s); i++ {
		if s[i] == '\n' {
			c++
			if c == n {
				return s[:i]
			}
		}
	}
	return s
}

// jitter spreads a period by ±frac.
func jitter(d time.Duration, frac float64) time.Duration {
	if frac <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + frac*(2*rand.Float64()-1)))
}
