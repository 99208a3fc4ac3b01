package world

import (
	_ "embed"
	"encoding/hex"
	"strings"
)

// defaultPlanetHex is node/Topology.cpp's ZT_DEFAULT_WORLD (unchanged from
// 1.8.x to 1.14.1): the Earth planet, world ID 149604618, timestamp
// 1644592324813, four roots.
//
//go:embed default-planet.hex
var defaultPlanetHex string

// DefaultPlanetBytes returns a copy of the serialized default planet.
func DefaultPlanetBytes() []byte {
	b, err := hex.DecodeString(strings.TrimSpace(defaultPlanetHex))
	if err != nil {
		panic("world: embedded default planet is not hex: " + err.Error()) // build-time data; tested
	}
	return b
}

// DefaultPlanet returns a freshly parsed copy of the default planet.
func DefaultPlanet() *World {
	w, err := Parse(DefaultPlanetBytes())
	if err != nil {
		panic("world: embedded default planet does not parse: " + err.Error()) // build-time data; tested
	}
	return w
}
