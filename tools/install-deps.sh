#!/usr/bin/env bash
# Installs what brine needs from Debian's archive, only if something is missing.
# Usage: tools/install-deps.sh [--bench]   (--bench adds the comparison baselines)
set -euo pipefail

# The Python package (python/) is built with pybind11 for Debian's /usr/bin/python3 and tested with
# pytest, numpy, cloudpickle, dill and joblib from Debian.
# The brine CLI (tools/) is built with CLI11 and nlohmann/json, header-only, so they are in the base list.
# brine::mpi (ClusterPool) and its tests (label mpi) need Open MPI; the multi-host test makes network
# namespaces with iproute2's `ip netns`.
packages=(g++ clang cmake ninja-build pkg-config
  libboost-dev libflatbuffers-dev flatbuffers-compiler python3 python3-flatbuffers googletest libgtest-dev libbenchmark-dev
  libclang-14-dev llvm-14-dev libcli11-dev nlohmann-json3-dev openmpi-bin libopenmpi-dev iproute2
  pybind11-dev python3-dev python3-numpy python3-cloudpickle python3-dill python3-joblib python3-pytest)
# --bench: the alternatives the benchmarks measure brine against, matplotlib for the report's plots,
# and Google Benchmark's compare.py (with scipy, which it imports) for `brine bench --compare`.
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(libprotobuf-dev protobuf-compiler capnproto libcapnp-dev libcereal-dev libmsgpack-cxx-dev
    libboost-serialization-dev python3 python3-joblib python3-numpy python3-mpi4py python3-distributed
    python3-matplotlib libbenchmark-tools python3-scipy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
