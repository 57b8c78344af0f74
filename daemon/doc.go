// Package daemon is gvsd: it owns the running state and wires the engine,
// the data path, the control API, metrics and configuration reloads.
//
// Every change, whatever its source (the configuration file at start or on
// SIGHUP, gvsadm through the API), goes to the engine and is then synced to
// the data path (kernel steering rules, owned VIPs, next hops), one change
// at a time. Invalid configuration is rejected whole with the file and
// line; the running state stays as it was.
//
// Where to start reading: daemon.go (New, Run, Reload), backend.go.
package daemon
