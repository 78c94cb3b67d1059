package e2e

import "syscall"

// childAttr makes wolke die with the test binary (a killed `go test` must
// not leave a cluster running).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
