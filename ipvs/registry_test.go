package ipvs

import "testing"

// A released id rests reuseAfter before it is handed out again (oldest
// first), unless no new id is left.
func TestRegistryReuse(t *testing.T) {
	var r registry[int]
	v := new(int)
	a, _ := r.alloc(v, 0)
	b, _ := r.alloc(v, 0)
	r.release(a, 100)
	r.release(b, 200)
	if r.get(a) != nil {
		t.Fatal("a released id still resolves")
	}
	if c, _ := r.alloc(v, 100+reuseAfter-1); c == a || c == b {
		t.Fatalf("id %d handed out again before it rested", c)
	}
	if c, _ := r.alloc(v, 100+reuseAfter); c != a {
		t.Fatalf("id %d, want the oldest rested one, %d", c, a)
	}
	// no new id left: a released one is taken at once; none: refused
	r.next.Store(regChunks * regChunkSize)
	r.release(b+10, 300) // a third released id, not yet rested
	if c, ok := r.alloc(v, 300); !ok || c != b {
		t.Fatalf("with the ids used up: %d %v, want %d", c, ok, b)
	}
	if c, ok := r.alloc(v, 300); !ok || c != b+10 {
		t.Fatalf("with the ids used up: %d %v, want %d", c, ok, b+10)
	}
	if c, ok := r.alloc(v, 300); ok {
		t.Fatalf("id %d handed out with none left", c)
	}
}
