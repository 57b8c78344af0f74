package bench

import (
	"math"
	"runtime"
	"sort"
)

// Summary is the median, minimum and maximum of a set of runs.
type Summary struct {
	N                int
	Median, Min, Max float64
}

// Summarize returns the median (the mean of the middle two for an even
// count), minimum and maximum of v, ignoring NaNs; N is 0 for no values.
func Summarize(v []float64) Summary {
	var s []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return Summary{}
	}
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{N: n, Median: med, Min: s[0], Max: s[n-1]}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted values
// by the nearest-rank method: the smallest value with at least p percent
// of the values at or below it. It returns NaN for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// Ratio returns x/base, and false when either is missing or base is 0.
func Ratio(x, base Summary) (float64, bool) {
	if x.N == 0 || base.N == 0 || base.Median == 0 {
		return 0, false
	}
	return x.Median / base.Median, true
}

func numCPU() int { return runtime.NumCPU() }
