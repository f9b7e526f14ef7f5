#!/usr/bin/env bash
# Multi-host test of brine::ClusterPool on one machine: three network namespaces, each a "host"
# with its own network stack and hostname, joined by veth pairs on a bridge (a fourth namespace,
# the switch). mpirun runs in host 0; Open MPI starts its daemons on hosts 1 and 2 through
# plm_rsh_agent pointed at a script that runs the command with `ip netns exec` (where ssh would
# log in to a real host), so every task, result and buffer crosses TCP between network stacks.
#
# Usage: netns_test.sh MPIRUN TEST_BINARY [gtest args...]
# Exits 77 (ctest: skipped) with the reason when namespaces cannot be made here (not root, no
# CAP_SYS_ADMIN, no iproute2, no veth or bridge support).
set -euo pipefail
mpirun=$1
binary=$2
shift 2

skip() { echo "SKIPPED: $*: the multi-host test needs root and network namespaces (ip netns, veth, bridge)"; exit 77; }
command -v ip > /dev/null || skip "iproute2's ip is not installed"
command -v unshare > /dev/null || skip "util-linux's unshare is not installed"
[[ $(id -u) -eq 0 ]] || skip "not root"

tag="b$$"
net="10.$((100 + $$ % 100)).$(( ($$ / 100) % 250 ))"
ns=("${tag}h0" "${tag}h1" "${tag}h2")
sw="${tag}sw"
work=$(mktemp -d)
cleanup() {
  for n in "${ns[@]}" "$sw"; do ip netns del "$n" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$sw" 2> /dev/null || skip "ip netns add failed"
ip -n "$sw" link add br0 type bridge 2> /dev/null || skip "no bridge support"
ip -n "$sw" link set br0 up
for i in 0 1 2; do
  ip netns add "${ns[$i]}"
  ip link add "${tag}v$i" type veth peer name "${tag}p$i" 2> /dev/null || skip "no veth support"
  ip link set "${tag}v$i" netns "${ns[$i]}"
  ip link set "${tag}p$i" netns "$sw"
  ip -n "$sw" link set "${tag}p$i" master br0 up
  ip -n "${ns[$i]}" addr add "$net.$((i + 1))/24" dev "${tag}v$i"
  ip -n "${ns[$i]}" link set "${tag}v$i" up
  ip -n "${ns[$i]}" link set lo up
done

# The "ssh" of this cluster: `agent HOST COMMAND...` runs COMMAND in HOST's namespace, under a
# hostname of its own (a UTS namespace), as a remote shell would.
cat > "$work/agent.sh" << AGENT
#!/usr/bin/env bash
host=\$1
shift
case "\$host" in
  $net.1) n=${ns[0]}; name=brine-host-0 ;;
  $net.2) n=${ns[1]}; name=brine-host-1 ;;
  $net.3) n=${ns[2]}; name=brine-host-2 ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$n" unshare --uts sh -c "hostname \$name && \$*"
AGENT
chmod +x "$work/agent.sh"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export BRINE_TEST_EXPECT_HOSTS="brine-host-1,brine-host-2"
forward=(-x BRINE_TEST_EXPECT_HOSTS)
for v in ASAN_OPTIONS LSAN_OPTIONS; do [[ -n ${!v:-} ]] && forward+=(-x "$v"); done
ip netns exec "${ns[0]}" unshare --uts sh -c 'hostname brine-host-0 && exec "$@"' sh \
  "$mpirun" --oversubscribe -np 3 --host "$net.1:1,$net.2:1,$net.3:1" \
  --mca plm_rsh_agent "$work/agent.sh" \
  --mca btl self,tcp --mca btl_tcp_if_include "$net.0/24" --mca oob_tcp_if_include "$net.0/24" \
  "${forward[@]}" \
  "$binary" "$@"
