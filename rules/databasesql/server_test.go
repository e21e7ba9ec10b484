package databasesql

import (
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

func render(attrs []attribute.KeyValue) string {
	var parts []string
	for _, a := range attrs {
		parts = append(parts, fmt.Sprintf("%s=%s", a.Key, a.Value.Emit()))
	}
	return strings.Join(parts, " ")
}

func TestServerFromDSN(t *testing.T) {
	cases := []struct {
		parse func(string) []attribute.KeyValue
		dsn   string
		want  string
	}{
		{mysqlServer, "app:p@ss/w@rd@tcp(10.0.0.5:3307)/shop?parseTime=true", "server.address=10.0.0.5 server.port=3307 db.namespace=shop"},
		{mysqlServer, "root@/test", "server.address=127.0.0.1 server.port=3306 db.namespace=test"},
		{mysqlServer, "u:p@unix(/run/mysqld.sock)/db", "server.address=/run/mysqld.sock db.namespace=db"},
		{mysqlServer, "u:p@tcp([::1]:3306)/db", "server.address=::1 server.port=3306 db.namespace=db"},
		{postgresServer, "postgres://app:secret@db.example:6543/orders?sslmode=disable", "server.address=db.example server.port=6543 db.namespace=orders"},
		{postgresServer, "postgresql://app@h1:5433,h2:5434/x", "server.address=h1 server.port=5433 db.namespace=x"},
		{postgresServer, "host=127.0.0.1 port=5440 user=app password='a b\\'c' dbname=app sslmode=disable", "server.address=127.0.0.1 server.port=5440 db.namespace=app"},
		{postgresServer, "dbname=x host=/var/run/postgresql", "server.address=/var/run/postgresql db.namespace=x"},
		{postgresServer, "user=app", "server.address=localhost server.port=5432"},
	}
	for _, c := range cases {
		got := render(c.parse(c.dsn))
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.dsn, got, c.want)
		}
		if strings.Contains(got, "secret") || strings.Contains(got, "p@ss") || strings.Contains(got, "a b") {
			t.Errorf("%q: credentials in %q", c.dsn, got)
		}
	}
}
