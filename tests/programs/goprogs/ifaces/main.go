// Command ifaces prints the interfaces as Go's net package lists them
// (netlink RTM_GETLINK/RTM_GETADDR dumps, no libc): one line per address,
// "name index mtu mac address/prefix".
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	ifs, err := net.Interfaces()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ifaces:", err)
		os.Exit(1)
	}
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			fmt.Fprintln(os.Stderr, "ifaces:", i.Name, err)
			os.Exit(1)
		}
		for _, a := range addrs {
			fmt.Println(i.Name, i.Index, i.MTU, i.HardwareAddr, a)
		}
	}
}
