// Package config is gvsd's configuration: the YAML file model, its parser
// (every error names the file and line), validation, the translation to the
// engine's model, and the reverse (so changes made through the API can be
// written back).
//
// keepalived.conf and ldirectord.cf converters produce this same model.
// It imports the engine's types only; it never touches a running engine:
// the daemon computes and applies the difference.
//
// Where to start reading: config.go (the model), parse.go.
package config
