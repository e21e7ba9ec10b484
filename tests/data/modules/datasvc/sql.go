package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"sync"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	_ "modernc.org/sqlite"
)

// The DSN of each database/sql driver, from the environment.
var dsnVars = map[string]string{
	"mysql":    "MYSQL_DSN",   // go-sql-driver/mysql
	"postgres": "LIBPQ_DSN",   // lib/pq
	"pgx":      "PG_DSN",      // pgx/v5/stdlib
	"sqlite":   "SQLITE_DSN",  // modernc.org/sqlite
	"sqlite3":  "SQLITE3_DSN", // mattn/go-sqlite3
}

var (
	dbsMu sync.Mutex
	dbs   = map[string]*sql.DB{}
)

func open(driver string) (*sql.DB, error) {
	dbsMu.Lock()
	defer dbsMu.Unlock()
	if db := dbs[driver]; db != nil {
		return db, nil
	}
	dsn := os.Getenv(dsnVars[driver])
	if dsn == "" {
		return nil, nil
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	dbs[driver] = db
	return db, nil
}

// sqlHandler: CREATE TABLE, INSERT and a SELECT through one driver.
func sqlHandler(w http.ResponseWriter, r *http.Request) {
	driver := r.PathValue("driver")
	db, err := open(driver)
	if err != nil {
		fail(w, err)
		return
	}
	if db == nil {
		http.Error(w, "no DSN for "+driver, http.StatusServiceUnavailable)
		return
	}
	ctx := r.Context()
	insert := "INSERT INTO notes (body) VALUES (?)"
	if driver == "postgres" || driver == "pgx" {
		insert = "INSERT INTO notes (body) VALUES ($1)"
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS notes (body TEXT)"); err != nil {
		fail(w, err)
		return
	}
	if _, err := db.ExecContext(ctx, insert, "hello"); err != nil {
		fail(w, err)
		return
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
		fail(w, err)
		return
	}
	fmt.Fprintf(w, "%s notes=%d\n", driver, n)
}

// sqlxHandler: sqlx over go-sql-driver/mysql, a Get and a Select.
func sqlxHandler(w http.ResponseWriter, r *http.Request) {
	dsn := os.Getenv("MYSQL_DSN")
	if dsn == "" {
		http.Error(w, "MYSQL_DSN not set", http.StatusServiceUnavailable)
		return
	}
	db, err := sqlx.Open("mysql", dsn)
	if err != nil {
		fail(w, err)
		return
	}
	defer db.Close()
	ctx := r.Context()
	var one int
	if err := db.GetContext(ctx, &one, "SELECT 1"); err != nil {
		fail(w, err)
		return
	}
	var names []string
	if err := db.SelectContext(ctx, &names, "SELECT 'a' UNION ALL SELECT 'b'"); err != nil {
		fail(w, err)
		return
	}
	fmt.Fprintf(w, "sqlx %d %v\n", one, names)
}

type Pet struct {
	ID   uint
	Name string
}

// gormHandler: gorm over gorm.io/driver/sqlite (mattn/go-sqlite3): a Create (in gorm's own
// transaction) and a First.
func gormHandler(w http.ResponseWriter, r *http.Request) {
	dsn := os.Getenv("SQLITE3_DSN")
	if dsn == "" {
		http.Error(w, "SQLITE3_DSN not set", http.StatusServiceUnavailable)
		return
	}
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{})
	if err != nil {
		fail(w, err)
		return
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	if err := db.AutoMigrate(&Pet{}); err != nil {
		fail(w, err)
		return
	}
	db = db.WithContext(r.Context())
	if err := db.Create(&Pet{Name: "rex"}).Error; err != nil {
		fail(w, err)
		return
	}
	var p Pet
	if err := db.First(&p).Error; err != nil {
		fail(w, err)
		return
	}
	fmt.Fprintf(w, "gorm %s\n", p.Name)
}
