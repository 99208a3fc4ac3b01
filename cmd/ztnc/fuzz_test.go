package main

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// FuzzPrintPeers feeds arbitrary API responses to the CLI's printers.
func FuzzPrintPeers(f *testing.F) {
	f.Add([]byte(`[{"address":"a5d157bdd7","versionMajor":1,"versionMinor":14,"versionRev":1,"latency":3,"role":"PLANET","tunneled":false,"paths":[{"address":"127.0.0.1/9993","lastSend":1,"lastReceive":2,"preferred":true}]}]`))
	f.Add([]byte(`[{"versionMajor":-1,"paths":[{"preferred":true,"lastSend":"x"}]},3,null]`))
	f.Add([]byte(`{"address":"x","online":true}`))
	f.Add([]byte(`[{"nwid":"0123456789abcdef","name":7,"status":"OK","ssoEnabled":true,"authenticationExpiryTime":99999999,"assignedAddresses":["10.0.0.1/24",1]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var j any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if dec.Decode(&j) != nil {
			return
		}
		printPeers(io.Discard, j, 1000)
		printListPeers(io.Discard, j, 1000)
		printNetworks(io.Discard, j, 1000)
		if _, err := dump(j); err != nil {
			t.Fatal(err)
		}
	})
}
