package capture

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestIntegrationTshark compares every fixture's decoding with tshark's.
func TestIntegrationTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark is missing: install it (apt-get install tshark)")
		}
		t.Skip("tshark not installed; skipping the tshark oracle")
	}
	paths, _ := filepath.Glob("testdata/*.pcap*")
	fields := []string{"frame.time_epoch", "ip.src", "ipv6.src", "tcp.srcport", "tcp.dstport",
		"tcp.seq_raw", "tcp.ack_raw", "tcp.len", "vxlan.vni", "vlan.id", "ieee8021ad.id"}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			args := []string{"-r", path, "-T", "fields", "-E", "separator=|"}
			for _, f := range fields {
				args = append(args, "-e", f)
			}
			var stdout bytes.Buffer
			cmd := exec.Command(tshark, args...)
			cmd.Stdout = &stdout
			cmd.Run() // exits 2 on the truncated file, after printing what it read
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			_, ps, _ := readAll(t, path)
			if len(lines) != len(ps) {
				t.Fatalf("tshark read %d packets, we read %d", len(lines), len(ps))
			}
			for i, p := range ps {
				if p.Warn != ReasonNone {
					continue
				}
				f := strings.Split(lines[i], "|")
				sec, frac, _ := strings.Cut(f[0], ".")
				ts, _ := strconv.ParseInt(sec+(frac + "000000000")[:9], 10, 64)
				if ts != p.TS {
					t.Errorf("packet %d: ts %d, tshark %s", p.Index, p.TS, f[0])
				}
				if p.IPVersion == 0 {
					if f[1] != "" || f[2] != "" {
						t.Errorf("packet %d: tshark found IP", p.Index)
					}
					continue
				}
				src := f[1] + f[2]
				if j := strings.LastIndexByte(src, ','); j >= 0 {
					src = src[j+1:]
				}
				if src != p.Src.Addr().String() {
					t.Errorf("packet %d: src %v, tshark %s", p.Index, p.Src.Addr(), src)
				}
				if p.Proto == ProtoTCP {
					want := strings.Join([]string{strconv.Itoa(int(p.Src.Port())), strconv.Itoa(int(p.Dst.Port())),
						strconv.FormatUint(uint64(p.Seq), 10), strconv.FormatUint(uint64(p.Ack), 10), strconv.Itoa(p.PayloadLen)}, "|")
					if got := strings.Join(f[3:8], "|"); got != want {
						t.Errorf("packet %d: tcp %s, tshark %s", p.Index, want, got)
					}
				} else if f[3] != "" {
					t.Errorf("packet %d: tshark found TCP, we found proto %d", p.Index, p.Proto)
				}
				vni := ""
				if p.Encap.VXLAN {
					vni = strconv.Itoa(int(p.Encap.VNI))
				}
				var vlans []string
				for _, v := range p.Encap.VLANs[:p.Encap.NVLAN] {
					vlans = append(vlans, strconv.Itoa(int(v)))
				}
				tv := f[9] // 802.1ad tags first: they are the outer ones here
				if f[10] != "" {
					tv = f[10] + "," + f[9]
				}
				if f[8] != vni || tv != strings.Join(vlans, ",") {
					t.Errorf("packet %d: vni %q vlans %v, tshark %q %q", p.Index, vni, vlans, f[8], tv)
				}
			}
		})
	}
}
