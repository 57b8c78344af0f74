package ipvsadm

// ipvsadm sorts services and destinations with qsort(3) and comparison
// functions that subtract 32-bit words and read the difference as a signed
// int. Addresses more than 2^31 apart therefore compare "backwards", and the
// relation is not transitive (224.0.0.1 < 10.0.0.1 < 127.0.0.1 < 224.0.0.1).
// The order then depends on the sort algorithm and on the input order, so
// both are reproduced: glibc's qsort is a top-down merge sort (msort.c,
// left half = n/2, ties taken from the left), and the input is the
// backend's order.

// svcEntry is a service as ipvsadm's comparison sees it.
type svcEntry struct {
	fwmark   uint32
	af       int
	protocol int
	addr     inetAddr
	port     uint16
}

// destEntry is a destination as ipvsadm's comparison sees it.
type destEntry struct {
	af   int
	addr inetAddr
	port uint16
}

// cmpServices is libipvs's ipvs_cmp_services.
func cmpServices(a, b *svcEntry) int {
	if r := int32(a.fwmark - b.fwmark); r != 0 {
		return int(r)
	}
	if r := a.af - b.af; r != 0 {
		return r
	}
	if r := a.protocol - b.protocol; r != 0 {
		return r
	}
	if r := cmpAddr(a.af, &a.addr, &b.addr); r != 0 {
		return r
	}
	return int(a.port) - int(b.port)
}

// cmpDests is libipvs's ipvs_cmp_dests (the family of the first operand
// decides how many words are compared).
func cmpDests(a, b *destEntry) int {
	if r := cmpAddr(a.af, &a.addr, &b.addr); r != 0 {
		return r
	}
	return int(a.port) - int(b.port)
}

func cmpAddr(af int, a, b *inetAddr) int {
	if af == afInet6 {
		for i := 0; i < 4; i++ {
			if r := int32(a.word(i) - b.word(i)); r != 0 {
				return int(r)
			}
		}
		return 0
	}
	return int(int32(a.word(0) - b.word(0)))
}

// msort sorts s in place exactly as glibc's qsort (merge sort) orders it.
func msort[T any](s []T, cmp func(a, b *T) int) {
	if len(s) < 2 {
		return
	}
	tmp := make([]T, len(s))
	msortRec(s, tmp, cmp)
}

func msortRec[T any](b, tmp []T, cmp func(a, b *T) int) {
	n := len(b)
	if n <= 1 {
		return
	}
	n1 := n / 2
	b1, b2 := b[:n1], b[n1:]
	msortRec(b1, tmp, cmp)
	msortRec(b2, tmp, cmp)
	i, j, k := 0, 0, 0
	for i < len(b1) && j < len(b2) {
		if cmp(&b1[i], &b2[j]) <= 0 {
			tmp[k] = b1[i]
			i++
		} else {
			tmp[k] = b2[j]
			j++
		}
		k++
	}
	for i < len(b1) {
		tmp[k] = b1[i]
		i++
		k++
	}
	// what is left of b2 is already in place
	copy(b[:k], tmp[:k])
}
