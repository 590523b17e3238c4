package netem

import (
	"fmt"
	"sort"
	"strings"
)

// Feature is a kernel facility the lab may need.
type Feature string

const (
	FeatNetem     Feature = "netem"      // sch_netem: delay, jitter, loss
	FeatTBF       Feature = "tbf"        // sch_tbf: rate limits
	FeatHTB       Feature = "htb"        // sch_htb
	FeatFQ        Feature = "fq"         // sch_fq: pacing
	FeatIngress   Feature = "ingress"    // sch_ingress: filters on receive
	FeatU32Mirred Feature = "u32+mirred" // cls_u32 + act_mirred: port mirroring
	FeatVXLAN     Feature = "vxlan"      // vxlan links: remote capture
)

// modules names the kernel modules behind each feature, for error messages.
var modules = map[Feature]string{
	FeatNetem: "sch_netem", FeatTBF: "sch_tbf", FeatHTB: "sch_htb", FeatFQ: "sch_fq",
	FeatIngress: "sch_ingress", FeatU32Mirred: "cls_u32 act_mirred", FeatVXLAN: "vxlan",
}

// Features is what the running kernel can do, as Probe found by trying each
// facility in a throwaway namespace.
type Features struct {
	Netem     bool `json:"netem"`
	TBF       bool `json:"tbf"`
	HTB       bool `json:"htb"`
	FQ        bool `json:"fq"`
	Ingress   bool `json:"ingress"`
	U32Mirred bool `json:"u32_mirred"`
	VXLAN     bool `json:"vxlan"`
	// Errors says, for each missing feature, what the kernel answered.
	Errors map[Feature]string `json:"errors,omitempty"`
}

// Has reports whether the kernel has feature x.
func (f Features) Has(x Feature) bool {
	switch x {
	case FeatNetem:
		return f.Netem
	case FeatTBF:
		return f.TBF
	case FeatHTB:
		return f.HTB
	case FeatFQ:
		return f.FQ
	case FeatIngress:
		return f.Ingress
	case FeatU32Mirred:
		return f.U32Mirred
	case FeatVXLAN:
		return f.VXLAN
	}
	return false
}

// LinkMechanism names what impairs the lab's links on this kernel: "netem"
// when it has sch_netem, else "linkemu" (the userspace emulator).
func (f Features) LinkMechanism() string {
	if f.Netem {
		return "netem"
	}
	return "linkemu"
}

// MissingError lists the features a run needs that the kernel lacks.
type MissingError struct {
	Missing []Feature
	Reasons map[Feature]string
}

func (e *MissingError) Error() string {
	var b strings.Builder
	b.WriteString("kernel lacks ")
	var mods []string
	for i, m := range e.Missing {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(m))
		if r := e.Reasons[m]; r != "" {
			fmt.Fprintf(&b, " (%s)", r)
		}
		mods = append(mods, modules[m])
	}
	fmt.Fprintf(&b, "; load the module(s) with: modprobe %s", strings.Join(mods, " "))
	return b.String()
}

// Require returns a *MissingError naming every feature of need the kernel
// lacks, or nil.
func (f Features) Require(need ...Feature) error {
	var miss []Feature
	for _, x := range need {
		if !f.Has(x) && !containsFeature(miss, x) {
			miss = append(miss, x)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	sort.Slice(miss, func(i, j int) bool { return miss[i] < miss[j] })
	return &MissingError{Missing: miss, Reasons: f.Errors}
}

func containsFeature(fs []Feature, x Feature) bool {
	for _, f := range fs {
		if f == x {
			return true
		}
	}
	return false
}

// String lists the features present, for run logs ("netem tbf htb ...").
func (f Features) String() string {
	var have []string
	for _, x := range []Feature{FeatNetem, FeatTBF, FeatHTB, FeatFQ, FeatIngress, FeatU32Mirred, FeatVXLAN} {
		if f.Has(x) {
			have = append(have, string(x))
		} else {
			have = append(have, "no-"+string(x))
		}
	}
	return strings.Join(have, " ")
}
