package main

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgxHandler: through a pgx.Conn an INSERT and a failing SELECT; through a pgxpool.Pool a batch of
// two INSERTs, a CopyFrom, a committed and a rolled-back transaction and a SELECT.
func pgxHandler(dsn string) http.HandlerFunc {
	var conn *pgx.Conn
	var pool *pgxpool.Pool
	if dsn != "" {
		ctx := context.Background()
		var err error
		if conn, err = pgx.Connect(ctx, dsn); err != nil {
			log.Fatal(err)
		}
		if pool, err = pgxpool.New(ctx, dsn); err != nil {
			log.Fatal(err)
		}
		if _, err = conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text, n int)"); err != nil {
			log.Fatal(err)
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if conn == nil {
			http.Error(w, "PG_DSN not set", http.StatusServiceUnavailable)
			return
		}
		ctx := r.Context()
		if _, err := conn.Exec(ctx, "INSERT INTO items (name, n) VALUES ($1, $2)", "conn", 1); err != nil {
			fail(w, err)
			return
		}
		_, noTable := conn.Exec(ctx, "SELECT * FROM no_such_table")

		b := &pgx.Batch{}
		b.Queue("INSERT INTO items (name, n) VALUES ($1, $2)", "batch", 2)
		b.Queue("INSERT INTO items (name, n) VALUES ($1, $2)", "batch", 3)
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			fail(w, err)
			return
		}
		rows := [][]any{{"copy", 4}, {"copy", 5}, {"copy", 6}}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"name", "n"}, pgx.CopyFromRows(rows)); err != nil {
			fail(w, err)
			return
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			fail(w, err)
			return
		}
		if _, err := tx.Exec(ctx, "UPDATE items SET n = n + 1 WHERE name = $1", "conn"); err != nil {
			fail(w, err)
			return
		}
		if err := tx.Commit(ctx); err != nil {
			fail(w, err)
			return
		}
		tx, err = pool.Begin(ctx)
		if err != nil {
			fail(w, err)
			return
		}
		if err := tx.Rollback(ctx); err != nil {
			fail(w, err)
			return
		}
		var count int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM items WHERE n >= $1", 0).Scan(&count); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprintf(w, "items=%d notable=%v\n", count, noTable != nil)
	}
}
