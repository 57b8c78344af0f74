// Package ipvsadm is GVS's ipvsadm: the command-line grammar, listings,
// save format, error messages and exit codes of ipvsadm 1.31, so that
// operators' command lines and scripts work unchanged against gvsd
// (cmd/gvsadm is the binary).
//
// The package talks only to a Backend: a narrow, data-only interface (add a
// service, list the services, restore a rule set...) that maps 1:1 onto
// gvsd's HTTP API. It never reaches into the engine's internals;
// LocalBackend implements Backend on an in-process *ipvs.Engine for tests
// and embedding, and gvsd's API client implements it over the wire (it
// registers itself in NewRemoteBackend).
//
// Where to start reading:
//
//   - run.go: CLI.Run, from argv to exit status, and the conversion of
//     ipvsadm's structures into the engine's types;
//   - parse.go (with options.go and popt.go): the grammar, exactly as
//     ipvsadm and libpopt parse it, every check in ipvsadm's order;
//   - list.go, save.go and sort.go: what -L and -S print, sorted as
//     ipvsadm sorts;
//   - backend.go: the Backend interface; local.go and local_restore.go:
//     LocalBackend, with its in-memory sync daemons and atomic restore;
//   - restore.go: -R, read as ipvsadm reads it but applied atomically
//     through Backend.Restore;
//   - errors.go: how kernel errors are worded (libipvs's ipvs_strerror);
//   - names.go: host and service names, and the C library's number and
//     address parsers ipvsadm relies on;
//   - json.go: --json, GVS's machine-readable listings;
//   - usage.go: -h and -v.
//
// The tests replay the command lines of the IPVS oracle (real kernel, real
// ipvsadm 1.31) and compare stdout, stderr and exit status byte for byte;
// see golden_test.go and testdata/README.md.
package ipvsadm
