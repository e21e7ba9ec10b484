package idle

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// TestAllocations prints what an Exec and a Query allocate: the same under plain `go test` and,
// with no OpenTelemetry configuration, under `otel-go-autoinst test`.
func TestAllocations(t *testing.T) {
	db, err := sql.Open("fake", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exec := testing.AllocsPerRun(200, func() {
		if _, err := db.ExecContext(ctx, "UPDATE t SET a = 1"); err != nil {
			t.Fatal(err)
		}
	})
	query := testing.AllocsPerRun(200, func() {
		rows, err := db.QueryContext(ctx, "SELECT a FROM t")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
	})
	fmt.Printf("ALLOCS exec=%v query=%v\n", exec, query)
}
