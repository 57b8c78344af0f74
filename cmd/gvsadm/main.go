// Command gvsadm is GVS's ipvsadm: the same command lines, the same output.
// It talks to gvsd over its API socket (/run/gvsd/gvsd.sock, or $GVSD_SOCKET,
// or --socket PATH).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	_ "github.com/govs/gvs/api" // registers the gvsd API client
	"github.com/govs/gvs/ipvsadm"
)

func main() {
	def := os.Getenv("GVSD_SOCKET")
	if def == "" {
		def = ipvsadm.DefaultSocket
	}
	socket, args := ipvsadm.SocketFromArgs(os.Args, def)

	var b ipvsadm.Backend
	if ipvsadm.NewRemoteBackend == nil {
		b = ipvsadm.UnavailableBackend(errors.New("gvsd API client not available"))
	} else {
		rb, err := ipvsadm.NewRemoteBackend(socket)
		if err != nil {
			rb = ipvsadm.UnavailableBackend(fmt.Errorf("cannot reach gvsd at %s: %w", socket, err))
		}
		b = rb
	}
	cli := &ipvsadm.CLI{Backend: b, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(cli.Run(context.Background(), args))
}
