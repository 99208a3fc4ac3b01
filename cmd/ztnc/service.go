package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"ztnc/runsvc"
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
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	// Like zerotier-one, restart with a new identity after a collision.
	for {
		s, err := service.Start(service.Options{Home: home, Port: o.port, PlanetFile: o.planet, Logger: log})
		if err != nil {
			fmt.Fprintf(stderr, "ztnc service: %v\n", err)
			return 1
		}
		// Programs started by `ztnc-run -d HOME --nwid …` share this node
		// (after a restart, the programs of the old one have lost theirs).
		door, err := runsvc.Listen(s, log)
		if err != nil {
			s.Close()
			fmt.Fprintf(stderr, "ztnc service: %v\n", err)
			return 1
		}
		select {
		case got := <-sig:
			door.Close()
			log.Info("stopping", "signal", got.String())
			if err := s.Close(); err != nil {
				fmt.Fprintf(stderr, "ztnc service: %v\n", err)
				return 1
			}
			return 0
		case err := <-s.Done():
			door.Close()
			s.Close()
			if !errors.Is(err, service.ErrIdentityCollision) {
				log.Error("API server stopped", "err", err)
				return 1
			}
			if err := service.SetAsideIdentity(home); err != nil {
				fmt.Fprintf(stderr, "ztnc service: %v\n", err)
				return 1
			}
			log.Warn("identity set aside after a collision; restarting with a new one", "home", home)
		}
	}
}
