package lab

import "syscall"

var hup = syscall.SIGHUP
