package results

// EmulatorStats is a snapshot of a userspace link emulator's counters: what
// `cloudpcap lab-linkemu --stats` writes (LinkemuStatsFile) and env.json
// embeds as an emulator's "stats".
type EmulatorStats struct {
	AtoB EmulatorDirStats `json:"a2b"`
	BtoA EmulatorDirStats `json:"b2a"`
	// A and B are the interfaces, Uptime the time since the emulator started.
	A        string `json:"a"`
	B        string `json:"b"`
	UptimeNs int64  `json:"uptime_ns"`
	// SpinWindowNs and LateAfterNs are the precision settings in force.
	SpinWindowNs int64 `json:"spin_window_ns"`
	LateAfterNs  int64 `json:"late_after_ns"`
	// Offloads says whether GSO/GRO/TSO were switched off on A and B
	// ("off") or left as they were ("kept").
	Offloads string `json:"offloads"`
}

// EmulatorDirStats counts one direction. Received = Forwarded +
// DroppedLoss + DroppedQueue + DroppedOversize + SendErrors + frames still
// held.
type EmulatorDirStats struct {
	Params          string `json:"params"`
	Received        uint64 `json:"received"`
	Forwarded       uint64 `json:"forwarded"`
	Bytes           uint64 `json:"bytes"`
	DroppedLoss     uint64 `json:"dropped_loss"`
	DroppedQueue    uint64 `json:"dropped_queue"`
	DroppedOversize uint64 `json:"dropped_oversize"`
	SendErrors      uint64 `json:"send_errors"`
	// KernelDrops are frames the kernel dropped before the emulator read
	// them (socket receive buffer full).
	KernelDrops uint64 `json:"kernel_drops"`
	// Late counts frames released more than LateAfter after their due time.
	Late uint64 `json:"late"`
	// GSOFrames counts frames that arrived as GSO super-frames (offloads
	// left on at the sender) and were forwarded whole.
	GSOFrames uint64 `json:"gso_frames"`
	// ClockFallback counts frames whose kernel timestamp was missing or
	// implausible, so the receive time was read from the clock instead.
	ClockFallback uint64 `json:"clock_fallback"`
	// ReleaseError is the emulator's own error: release time minus due time
	// of every forwarded frame.
	ReleaseError EmulatorQuantiles `json:"release_error"`
	// ReceiveLatency is the time from a frame's kernel receive timestamp
	// to its admission by the receive loop; a frame whose receive latency
	// exceeds its delay cannot be released on time.
	ReceiveLatency EmulatorQuantiles `json:"receive_latency"`
}

// EmulatorQuantiles summarises a distribution of nanoseconds.
type EmulatorQuantiles struct {
	Count  int64 `json:"count"`
	P50Ns  int64 `json:"p50_ns"`
	P90Ns  int64 `json:"p90_ns"`
	P99Ns  int64 `json:"p99_ns"`
	MaxNs  int64 `json:"max_ns"`
	MeanNs int64 `json:"mean_ns"`
}

// WriteEmulatorStats writes st to path atomically.
func WriteEmulatorStats(path string, st *EmulatorStats) error { return writeJSON(path, st) }
