// Package netaddr splits the addresses hooks see (Host headers, peer addresses, dial targets) into
// the server.address / server.port (or network.peer.*) attribute values.
package netaddr

import (
	"net"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
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

// ServerAttrs gives server.address, and server.port when there is one, for a "host[:port]"
// address (a broker, a database server).
func ServerAttrs(hostport string) []attribute.KeyValue {
	host, port := SplitHostPort(hostport)
	out := []attribute.KeyValue{semconv.ServerAddress(host)}
	if port > 0 {
		out = append(out, semconv.ServerPort(port))
	}
	return out
}
