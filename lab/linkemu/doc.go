// Package linkemu is the lab's userspace link emulator, used where the kernel
// has no sch_netem: it forwards Ethernet frames between two interfaces of one
// network namespace (the "middle" of a host-emu-host chain) and impairs each
// direction with a one-way delay, jitter (uniform or normal), random loss, a
// bit-rate limit with a tail-drop queue, and optional reordering, as the
// plain-data Params and Link describe. Package lab/netem installs the same
// Link with the kernel's netem where it exists.
//
// Mechanism. Each interface has an AF_PACKET receive socket (ETH_P_ALL,
// bound to its ifindex, own writes ignored) and a send socket (protocol 0,
// receives nothing). A frame's due time is its kernel receive timestamp
// (SO_TIMESTAMPNS) plus the shaper's delay; see shaper for the model. A
// release thread per direction, locked to its OS thread with timer slack 1
// ns, sleeps in ppoll until SpinWindow before the earliest due time and
// busy-waits the rest, then writes the frame. Every released frame records
// its release error (release time minus due time) in an HDR histogram;
// Stats reports p50/p90/p99/max with counts of forwarded, lost, tail-dropped
// and late frames.
//
// Precision. The release error is taken just before the write. Go's own
// timers overshoot by about a millisecond on a busy machine, hence the ppoll
// sleep and the spin. On an idle core the error is well under a microsecond
// at the median; under load its tail is set by the CPU scheduler, so
// Config.RealtimePriority (SCHED_FIFO) is recommended for measurement runs:
// on a 2-core machine at load 12 it took the p99 from tens of milliseconds to
// microseconds. What remains is the kernel's own softirq scheduling, which
// delays a few frames before they reach the emulator (ReceiveLatency in Stats)
// and would delay netem's just as well.
//
// Running. Start runs the emulator in the calling process (it enters
// Config.Netns only to open its sockets); CommandArgs gives the arguments of
// "cloudpcap lab-linkemu", which runs one in its own process until SIGTERM
// and writes Stats as JSON on exit and on SIGUSR1 (lab/results owns that
// record's type, EmulatorStats: the lab keeps it with a run's results).
//
// Large frames and offloads. Sockets use PACKET_VNET_HDR, so a frame keeps its
// checksum-offload state (veth peers leave TCP/UDP checksums to the
// "hardware") and a GSO super-frame of up to 64 KiB is forwarded whole, its
// rate cost counted as the segments it becomes. Start switches GSO, GRO and
// TSO off on its two interfaces, and the lab should call DisableOffloads on
// the far ends of the veth pairs so that TCP hands the link MTU-sized frames
// (loss and reordering of a super-frame would otherwise hit all its segments
// at once); GSOFrames in Stats counts the super-frames that got through anyway.
//
// Buffers. The receive loop reads into one preallocated buffer per interface
// and copies each admitted frame into a frame buffer from the direction's
// free list (MTU-sized, preallocated up to the queue limit, or 64 KiB for
// super-frames); the release loop returns it after the write. The steady
// state allocates nothing. Callers own nothing of the emulator's: Stats
// returns copies.
package linkemu
