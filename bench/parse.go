package bench

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var nftPackets = regexp.MustCompile(`packets (\d+) bytes (\d+)`)

// ParseNftCounter returns the packet count of a named counter from the
// output of nft list counter.
func ParseNftCounter(s string) (uint64, error) {
	m := nftPackets.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("no counter in %q", oneLine(s))
	}
	return strconv.ParseUint(m[1], 10, 64)
}

// ParseIperf3 returns the received rate in bit/s from iperf3 -J output:
// end.sum_received, the receiver's count (the client's with -R). An
// "error" in the document is returned as the error.
func ParseIperf3(b []byte) (float64, error) {
	var doc struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
				Bytes         float64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, fmt.Errorf("iperf3 output: %v: %s", err, oneLine(string(b)))
	}
	if doc.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", doc.Error)
	}
	if doc.End.SumReceived.Bytes == 0 {
		return 0, fmt.Errorf("iperf3: nothing received")
	}
	return doc.End.SumReceived.BitsPerSecond, nil
}

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// ParseGoBench reads go test -bench output into rows: one row per
// benchmark and sub-benchmark ("ConnLookup/1M"), with ns/op and
// bytes/conn from every count.
func ParseGoBench(out string) []TableRow {
	var rows []TableRow
	index := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		name, entries, _ := strings.Cut(m[1], "/")
		f := strings.Fields(m[2])
		var ns, bpc float64 = -1, -1
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				ns = v
			case "bytes/conn":
				bpc = v
			}
		}
		if ns < 0 {
			continue
		}
		key := m[1]
		i, ok := index[key]
		if !ok {
			i = len(rows)
			index[key] = i
			rows = append(rows, TableRow{Bench: name, Entries: entries})
		}
		rows[i].NsPerOp = append(rows[i].NsPerOp, ns)
		if bpc >= 0 {
			rows[i].BytesConn = append(rows[i].BytesConn, bpc)
		}
	}
	return rows
}
