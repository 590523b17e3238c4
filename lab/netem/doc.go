// Package netem impairs the lab's links with the kernel's own qdiscs where
// the kernel has them, and tells the lab when it does not.
//
// Probe tries each facility the lab may use (sch_netem, tbf, htb, fq,
// ingress + u32 + mirred, vxlan) in a throwaway namespace and returns
// Features; Features.Require refuses a run that needs something missing with
// a message naming the module, and Features.LinkMechanism says whether links
// are impaired by netem or by the userspace emulator (lab/linkemu).
//
// Apply installs a linkemu.Link on a veth pair: each end's egress gets a
// qdisc tree built by Tree from that direction's Params (netem for delay,
// jitter, loss, queue limit and seed, with a rate or a tbf child; tbf alone
// for a pure rate limit). Tree is pure: it returns the qdiscs with their
// netlink option payloads, so what is sent to the kernel is tested without
// one. Netlink messages are built in memory per call; the package keeps no
// buffers and no state.
package netem
