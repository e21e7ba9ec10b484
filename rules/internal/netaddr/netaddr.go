// Package netaddr splits the addresses hooks see (Host headers, peer addresses, dial targets) into
// the server.address / server.port (or network.peer.*) attribute values.
package netaddr

import (
	"net"
	"strconv"
	"strings"
)

// SplitHostPort splits "host[:port]" leniently: port is 0 when absent or invalid, and an IPv6
// literal loses its brackets.
func SplitHostPort(hostport string) (string, int) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), 0
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return host, 0
	}
	return host, port
}
