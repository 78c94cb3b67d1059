//go:build !linux

package e2e

import "syscall"

// childAttr: without Pdeathsig, cleanup alone stops wolke.
func childAttr() *syscall.SysProcAttr { return nil }
