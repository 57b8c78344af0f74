package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/govs/gvs/ipvs"
	"go.yaml.in/yaml/v3"
)

// Load reads and validates a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse decodes and validates a configuration. Errors name the file and line.
func Parse(data []byte, file string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, located(err, file)
	}
	if err := c.Validate(); err != nil {
		return nil, located(err, file)
	}
	return &c, nil
}

// located turns decoder and validation errors into "file:line: message".
func located(err error, file string) error {
	var le *LineError
	if errors.As(err, &le) {
		c := *le
		c.File = file
		return &c
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		// the first message is enough to fix the file; it carries its line
		if m := yamlLine.FindStringSubmatch(te.Errors[0]); m != nil {
			n, _ := strconv.Atoi(m[1])
			return &LineError{File: file, Line: n, Msg: m[2]}
		}
		return &LineError{File: file, Msg: te.Errors[0]}
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &LineError{File: file, Line: n, Msg: m[2]}
	}
	return &LineError{File: file, Msg: err.Error()}
}

// The values of fanout (and gvsd --fanout); empty means FanoutFlow.
const (
	FanoutFlow = "flow"
	FanoutCPU  = "cpu"
)

// CheckFanout returns an error unless s is a fanout value or empty.
func CheckFanout(s string) error {
	if s != "" && s != FanoutFlow && s != FanoutCPU {
		return fmt.Errorf("fanout %q: want %s or %s", s, FanoutFlow, FanoutCPU)
	}
	return nil
}

// Validate checks everything that can be checked without a running engine,
// including that the services would be accepted by one.
func (c *Config) Validate() error {
	if c.Workers < 0 {
		return &LineError{Msg: "workers must not be negative"}
	}
	if c.BusyPoll != nil && (*c.BusyPoll < 0 || time.Duration(*c.BusyPoll) > time.Second) {
		return &LineError{Msg: "busy_poll must be between 0 (off) and 1s"}
	}
	if err := CheckFanout(c.Fanout); err != nil {
		return &LineError{Msg: err.Error()}
	}
	if c.API.TCP != "" && c.API.TokenFile == "" {
		return &LineError{Msg: "api.tcp needs api.token_file: the TCP listener refuses to start without a token"}
	}
	if _, err := c.EngineTimeouts(); err != nil {
		return err
	}
	opts := c.EngineOptions()
	eng, err := ipvs.New(ipvs.Config{MaxConns: 1, Options: &opts, HashSeed: 1})
	if err != nil {
		return &LineError{Msg: "options: " + err.Error()}
	}
	seen := map[ipvs.ServiceKey]int{}
	for i := range c.Services {
		s := &c.Services[i]
		if s.FWMark == 0 {
			if s.Protocol == 0 {
				return s.errf("service needs protocol (tcp, udp, sctp) or fwmark")
			}
			if !netip.Addr(s.Address).IsValid() {
				return s.errf("service needs an address")
			}
		} else if s.Protocol != 0 || netip.Addr(s.Address).IsValid() || s.Port != 0 {
			return s.errf("a fwmark service has no protocol, address or port")
		}
		if s.OnePacket && s.Protocol != Protocol(ipvs.ProtoUDP) {
			return s.errf("one_packet is only for UDP services")
		}
		svc, dests, err := s.Engine()
		if err != nil {
			return err
		}
		if prev, dup := seen[svc.ServiceKey]; dup {
			return s.errf("service %s is already defined at line %d", svc.ServiceKey, prev)
		}
		seen[svc.ServiceKey] = s.Line
		if err := eng.AddService(svc); err != nil {
			return s.errf("%s", engineMessage(err))
		}
		for j, d := range dests {
			if err := eng.AddDest(svc.ServiceKey, d); err != nil {
				return s.RealServers[j].errf("%s", engineMessage(err))
			}
		}
	}
	for _, m := range c.FWMarks {
		if m.Mark == 0 {
			return &LineError{Line: m.Line, Msg: "fwmarks: mark must be non-zero"}
		}
		for _, x := range m.Match {
			if !netip.Prefix(x.Address).IsValid() {
				return &LineError{Line: m.Line, Msg: "fwmarks: match needs an address"}
			}
		}
	}
	return nil
}

func engineMessage(err error) string {
	var e *ipvs.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return err.Error()
}

// Marshal renders a configuration as YAML.
func Marshal(c *Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return buf.Bytes(), nil
}
