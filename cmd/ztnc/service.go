package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"ztnc/zerotier/service"
)

func runService(o *options, stderr io.Writer) int {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	home := o.home
	if home == "" {
		home = service.DefaultHome
	}
	s, err := service.Start(service.Options{Home: home, Port: o.port, PlanetFile: o.planet, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "ztnc service: %v\n", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case got := <-sig:
		log.Info("stopping", "signal", got.String())
	case err := <-s.Done():
		log.Error("API server stopped", "err", err)
		s.Close()
		return 1
	}
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "ztnc service: %v\n", err)
		return 1
	}
	return 0
}
