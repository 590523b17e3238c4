// Package capture reads captured packets and decodes them down to TCP and
// UDP: pcap files (microsecond and nanosecond, either byte order), pcapng
// files (several interfaces with their own link types and timestamp
// resolutions, TLS key logs in Decryption Secrets Blocks), and live
// AF_PACKET sockets, all behind one pull interface, Source.
//
// Decoding is by hand, allocation-free: Ethernet, Linux cooked (SLL, SLL2),
// raw IP, BSD loopback, 802.1Q/802.1ad VLAN tags, IPv4 with options, IPv6
// with extension headers, TCP with options, UDP, and VXLAN (UDP 4789, as
// AWS Traffic Mirroring sends it) down to the inner Ethernet frame. IP
// fragments are counted as unsupported.
//
// Buffers: ReadInto fills a Packet that the caller owns, but Packet.Data
// and Packet.Payload point into the source's buffer and are valid only
// until the next ReadInto on that source. Copy them if you keep them.
// File.KeyLog's bytes belong to the File.
//
// Errors: a packet that cannot be fully decoded is a counted Warning
// ("cap.pcap: packet 17: ipv4: header length 4 < 20") and reading goes on;
// a file that is not a capture, or a truncated or corrupt record, ends
// reading with a *ReadError naming the file and packet.
package capture
