package ipvsadm

// The real schedulers, so the goldens run against them.
import _ "github.com/govs/gvs/ipvs/sched"
