// Command bigmodule is the build benchmark's larger module: a small service whose dependencies
// (gin, gRPC, a MySQL driver, the Prometheus client, pgx) bring a few hundred packages into the build.
package main

import (
	"database/sql"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"example.com/bigmodule/store"
)

var requests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "bigmodule_requests_total",
	Help: "Requests served.",
}, []string{"path"})

func main() {
	prometheus.MustRegister(requests)
	db, err := sql.Open(envOr("DB_DRIVER", "mysql"), envOr("DB_DSN", "user:pass@tcp(127.0.0.1:3306)/app"))
	if err != nil {
		log.Fatal(err)
	}
	st := store.New(db)

	r := gin.New()
	r.GET("/items/:id", func(c *gin.Context) {
		requests.WithLabelValues("/items").Inc()
		item, err := st.Item(c.Request.Context(), c.Param("id"))
		if err != nil {
			c.JSON(http.StatusNotFound, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, item)
	})
	r.GET("/metrics", gin.WrapH(promhttp.Handler()))

	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	lis, err := net.Listen("tcp", envOr("GRPC_ADDR", "127.0.0.1:9090"))
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal(gs.Serve(lis)) }()
	log.Fatal(r.Run(envOr("HTTP_ADDR", "127.0.0.1:8080")))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
