package sched

import "github.com/govs/gvs/ipvs"

// sed is Shortest Expected Delay (ip_vs_sed.c): the destination with the
// lowest (active + 1) / weight, the delay a new connection would see if
// every server works off its active connections at the rate of its weight.
// Inactive connections do not count, so with only closed connections the
// highest weight always wins. Same loop, comparison and skipping as wlc.
type sed struct{}

func init() { register("sed", func(*ipvs.Service) ipvs.Scheduler { return sed{} }) }

func (sed) Schedule(svc *ipvs.Service, _ *ipvs.Flow, _ int64) *ipvs.Dest {
	return leastWeighted(svc.Dests(), expectedDelay)
}
