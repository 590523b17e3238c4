package topology

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ifreqData is struct ifreq with the ifr_data member.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte // pad to sizeof(struct ifreq)
}

func ethtoolSet(fd int, iface string, cmd, val uint32) error {
	// Both structs live on the heap (which does not move) and are kept
	// alive across the call; the kernel reads ifr.data as a user pointer.
	v := &ethtoolValue{cmd: cmd, data: val}
	ifr := &ifreqData{}
	copy(ifr.name[:unix.IFNAMSIZ-1], iface)
	ifr.data = uintptr(unsafe.Pointer(v))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(ifr)))
	runtime.KeepAlive(v)
	runtime.KeepAlive(ifr)
	if errno != 0 {
		return errno
	}
	return nil
}
