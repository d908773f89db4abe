// Added to sigs.k8s.io/kube-network-policies by wordmix's scripts/cluster/build.sh: the local
// cluster's kernel has no nft_queue, so packets are queued with the xtables NFQUEUE target,
// which nftables runs through nft_compat. Same queue, same bypass flag, same verdicts.

package networkpolicy

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// xtQueue is `queue num <num> [bypass]` as an xt_NFQUEUE revision 3 target:
// struct xt_NFQ_info_v3 { __u16 queuenum; __u16 queues_total; __u16 flags; }, padded to 8 bytes.
func xtQueue(num uint16, bypass bool) expr.Any {
	info := make([]byte, 8)
	binary.NativeEndian.PutUint16(info[0:], num)
	binary.NativeEndian.PutUint16(info[2:], 1) // one queue, no fan-out
	if bypass {
		binary.NativeEndian.PutUint16(info[4:], 1) // NFQ_FLAG_BYPASS
	}
	unknown := xt.Unknown(info)
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &unknown}
}
