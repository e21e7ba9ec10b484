package databasesql

import (
	"database/sql"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
)

// What sql.Open's data source name tells of the server: server.address, server.port and
// db.namespace for the spans of a *sql.DB (and of the transactions it begins). Credentials and
// other parameters of the DSN are never recorded. A *sql.DB made by sql.OpenDB (a connector, no
// DSN) has none of them.

var servers sync.Map // *sql.DB -> []attribute.KeyValue

// serverOf is what is known of db's server (nil when nothing is).
func serverOf(db *sql.DB) []attribute.KeyValue {
	if v, ok := servers.Load(db); ok {
		return v.([]attribute.KeyValue)
	}
	return nil
}

// openOnEnter keeps the DSN for openOnExit. Parameters: 0 the driver name, 1 the DSN.
func openOnEnter(call *api.CallContext, driverName, dsn string) {
	if disabled {
		return
	}
	callctx.Hidden(call).SetData(dsn)
}

// openOnExit reads the new *sql.DB's server from its DSN, in the driver's syntax.
func openOnExit(call *api.CallContext, db *sql.DB, err error) {
	dsn, ok := callctx.Hidden(call).GetData().(string)
	if !ok || db == nil || err != nil {
		return
	}
	var attrs []attribute.KeyValue
	switch dbSystem(db) {
	case "mysql":
		attrs = mysqlServer(dsn)
	case "postgresql":
		attrs = postgresServer(dsn)
	}
	if attrs != nil {
		servers.Store(db, attrs)
	}
}

// dbCloseOnEnter forgets a closed *sql.DB.
func dbCloseOnEnter(call *api.CallContext, db *sql.DB) { servers.Delete(db) }

func hostPortAttrs(host string, port int, namespace string) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	if namespace != "" {
		attrs = append(attrs, semconv.DBNamespace(namespace))
	}
	return attrs
}

// mysqlServer reads go-sql-driver/mysql's DSN: [user[:password]@][net[(addr)]]/dbname[?params].
func mysqlServer(dsn string) []attribute.KeyValue {
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return nil
	}
	dbname := dsn[slash+1:]
	if q := strings.IndexByte(dbname, '?'); q >= 0 {
		dbname = dbname[:q]
	}
	netAddr := dsn[:slash]
	if at := strings.LastIndexByte(netAddr, '@'); at >= 0 {
		netAddr = netAddr[at+1:] // the credentials end at the last '@'
	}
	network, addr := netAddr, ""
	if open := strings.IndexByte(netAddr, '('); open >= 0 && strings.HasSuffix(netAddr, ")") {
		network, addr = netAddr[:open], netAddr[open+1:len(netAddr)-1]
	}
	switch network {
	case "", "tcp", "tcp4", "tcp6":
		if addr == "" {
			addr = "127.0.0.1:3306"
		}
		host, port := splitHostPort(addr, 3306)
		return hostPortAttrs(host, port, dbname)
	case "unix":
		return hostPortAttrs(addr, 0, dbname)
	}
	return hostPortAttrs("", 0, dbname)
}

// postgresServer reads a PostgreSQL DSN (lib/pq, pgx): a postgres:// URL or key=value words. Of
// several hosts, the first.
func postgresServer(dsn string) []attribute.KeyValue {
	var host, port, dbname string
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil
		}
		hosts := strings.Split(u.Host, ",")
		host, port = splitHostPortString(hosts[0])
		dbname = strings.TrimPrefix(u.Path, "/")
		if h := u.Query().Get("host"); h != "" && host == "" {
			host = h
		}
	} else {
		kv := keyValues(dsn)
		host, port, dbname = kv["host"], kv["port"], kv["dbname"]
		host, _, _ = strings.Cut(host, ",")
		port, _, _ = strings.Cut(port, ",")
	}
	if host == "" {
		host = "localhost"
	}
	p := 5432
	if n, err := strconv.Atoi(port); err == nil {
		p = n
	}
	if strings.HasPrefix(host, "/") {
		p = 0 // a unix socket's directory
	}
	return hostPortAttrs(host, p, dbname)
}

// keyValues reads libpq's key=value words ('single quotes' and \ escapes allowed).
func keyValues(s string) map[string]string {
	out := map[string]string{}
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			break
		}
		key := strings.TrimSpace(s[i : i+eq])
		i += eq + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
			i++
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		out[key] = val.String()
	}
	return out
}

func splitHostPortString(addr string) (string, string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return strings.Trim(addr, "[]"), ""
	}
	return host, port
}

func splitHostPort(addr string, defaultPort int) (string, int) {
	host, port := splitHostPortString(addr)
	p, err := strconv.Atoi(port)
	if err != nil {
		p = defaultPort
	}
	return host, p
}

// withServer adds what is known of the server to the span a hook just started.
func withServer(call *api.CallContext, attrs []attribute.KeyValue) {
	if len(attrs) == 0 {
		return
	}
	if st, _ := callctx.Hidden(call).GetData().(*callState); st != nil && st.span != nil {
		st.span.SetAttributes(attrs...)
		st.server = attrs
	}
}

// txServer is what is known of the server of an open transaction.
func txServer(tx *sql.Tx) []attribute.KeyValue {
	if v, ok := txs.Load(tx); ok {
		return v.(*txInfo).server
	}
	return nil
}
