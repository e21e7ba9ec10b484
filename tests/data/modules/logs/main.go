// A program that logs through log/slog, log, logrus, zap and zerolog, first outside any request and
// then inside an HTTP handler (with the request's context, and from a goroutine without one), all to
// stdout, without timestamps so that two runs print the same bytes.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

var (
	textLogger = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	logrusLogger = logrus.New()
	zapLogger    *zap.Logger
	zeroLogger   = zerolog.New(os.Stdout)
)

func setup() {
	log.SetFlags(0)
	log.SetOutput(os.Stdout)
	logrusLogger.SetOutput(os.Stdout)
	logrusLogger.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true, DisableColors: true})
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = ""
	zapLogger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(os.Stdout), zapcore.InfoLevel))
}

// ctxField carries ctx to zap's core without being written (the way the otelzap bridge reads it).
func ctxField(ctx context.Context) zap.Field {
	return zapcore.Field{Key: "ctx", Type: zapcore.SkipType, Interface: ctx}
}

// logAll writes one line per library, with ctx where the library takes one.
func logAll(ctx context.Context, where string) {
	textLogger.InfoContext(ctx, "slog "+where, "k", "v")
	slog.InfoContext(ctx, "slogdefault "+where) // slog's default handler writes through log
	log.Printf("stdlog %s", where)
	logrusLogger.WithContext(ctx).WithField("k", "v").Info("logrus " + where)
	zapLogger.Info("zap "+where, zap.String("k", "v"), ctxField(ctx))
	zapLogger.Sugar().Infow("zapsugar "+where, "k", "v", ctxField(ctx))
	zeroLogger.Info().Ctx(ctx).Str("k", "v").Msg("zerolog " + where)
}

// logNoContext writes one line per library without a context: only the goroutine's span can
// correlate them.
func logNoContext(where string) {
	textLogger.Info("slog "+where, "k", "v")
	log.Printf("stdlog %s", where)
	logrusLogger.WithField("k", "v").Info("logrus " + where)
	zapLogger.Info("zap "+where, zap.String("k", "v"))
	zeroLogger.Info().Str("k", "v").Msg("zerolog " + where)
}

func main() {
	setup()
	logAll(context.Background(), "outside")
	logNoContext("outside-noctx")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logAll(r.Context(), "inside")
		logNoContext("inside-noctx")
		done := make(chan struct{})
		go func() {
			defer close(done)
			logNoContext("inside-goroutine")
		}()
		<-done
		io.WriteString(w, "ok")
	}))
	resp, err := http.Get(srv.URL + "/work")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.Close()
	_ = zapLogger.Sync()
	fmt.Println("body:", string(body))
}
