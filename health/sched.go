package health

import (
	"container/heap"
	"sync"
	"time"
)

// heapClock is the Manager's real clock: one goroutine and one runtime
// timer serve every scheduled check, however many, so due checks never
// pile up as goroutines. Callbacks run on that goroutine and must be short
// (they queue work).
type heapClock struct {
	mu   sync.Mutex
	h    timerHeap
	wake chan struct{}
	quit chan struct{}
	done chan struct{}
}

type htimer struct {
	at  time.Time
	seq uint64
	f   func()
	idx int // position in the heap; -1 once fired or stopped
}

type timerHeap struct {
	ts  []*htimer
	seq uint64
}

func (h *timerHeap) Len() int { return len(h.ts) }
func (h *timerHeap) Less(i, j int) bool {
	a, b := h.ts[i], h.ts[j]
	return a.at.Before(b.at) || (a.at.Equal(b.at) && a.seq < b.seq)
}
func (h *timerHeap) Swap(i, j int) {
	h.ts[i], h.ts[j] = h.ts[j], h.ts[i]
	h.ts[i].idx, h.ts[j].idx = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*htimer)
	t.idx = len(h.ts)
	h.ts = append(h.ts, t)
}
func (h *timerHeap) Pop() any {
	t := h.ts[len(h.ts)-1]
	h.ts[len(h.ts)-1] = nil
	h.ts = h.ts[:len(h.ts)-1]
	t.idx = -1
	return t
}

func newHeapClock() *heapClock {
	c := &heapClock{wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *heapClock) Now() time.Time { return time.Now() }

func (c *heapClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	c.h.seq++
	t := &htimer{at: time.Now().Add(d), seq: c.h.seq, f: f}
	heap.Push(&c.h, t)
	first := t.idx == 0
	c.mu.Unlock()
	if first {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.idx < 0 {
			return false
		}
		heap.Remove(&c.h, t.idx)
		return true
	}
}

func (c *heapClock) run() {
	defer close(c.done)
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	var due []*htimer
	for {
		c.mu.Lock()
		now := time.Now()
		for c.h.Len() > 0 && !c.h.ts[0].at.After(now) {
			due = append(due, heap.Pop(&c.h).(*htimer))
		}
		wait := time.Hour
		if c.h.Len() > 0 {
			wait = c.h.ts[0].at.Sub(now)
		}
		c.mu.Unlock()
		for i, t := range due {
			t.f()
			due[i] = nil
		}
		due = due[:0]
		tm.Reset(wait)
		select {
		case <-tm.C:
		case <-c.wake:
		case <-c.quit:
			return
		}
	}
}

func (c *heapClock) stop() {
	close(c.quit)
	<-c.done
}
