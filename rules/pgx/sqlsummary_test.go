package pgx

import "testing"

func TestSummarize(t *testing.T) {
	cases := []struct{ q, op, table string }{
		{"SELECT id, name FROM users WHERE id = $1", "SELECT", "users"},
		{"  /* hi */ select * from public.items i", "SELECT", "public.items"},
		{`SELECT (SELECT max(x) FROM b) FROM "Orders" o WHERE o.x = 'from y'`, "SELECT", "Orders"},
		{"SELECT a.x FROM a JOIN b ON a.id = b.id", "SELECT", ""},
		{"SELECT 1 FROM a, b", "SELECT", ""},
		{"SELECT 1", "SELECT", ""},
		{"insert into items (name, n) values ($1, $2)", "INSERT", "items"},
		{"UPDATE ONLY items SET n = n + 1", "UPDATE", "items"},
		{"DELETE FROM items WHERE n < 0", "DELETE", "items"},
		{"begin isolation level serializable", "BEGIN", ""},
		{"-- comment\ncommit", "COMMIT", ""},
		{"WITH x AS (SELECT 1) SELECT * FROM x", "WITH", ""},
		{"", "", ""},
	}
	for _, c := range cases {
		op, table := summarize(c.q)
		if op != c.op || table != c.table {
			t.Errorf("summarize(%q) = %q, %q; want %q, %q", c.q, op, table, c.op, c.table)
		}
	}
}
