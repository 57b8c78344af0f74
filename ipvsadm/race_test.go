//go:build race

package ipvsadm

func init() { raceEnabled = true }
