#!/usr/bin/env bash
# Installs every Debian package Kestrel's build, tests and benchmarks need.
# Idempotent: prints nothing and changes nothing when everything is installed.
set -euo pipefail

packages=(
  # toolchain
  cmake ninja-build g++ make pkg-config python3
  clang-14 llvm-14-tools libclang-rt-14-dev clang-format clang-tidy
  # libraries
  libexpected-dev libsimdjson-dev libcli11-dev libfmt-dev libzstd-dev libxxhash-dev libre2-dev
  libtomlplusplus-dev libvectorscan-dev wabt libluajit-5.1-dev
  # rule packs (YAML), alert sinks and the metrics endpoint (HTTP), logs
  libyaml-cpp-dev nlohmann-json3-dev libcpp-httplib-dev libspdlog-dev
  # the live source: BPF programs (clang above), skeletons and loading
  libbpf-dev bpftool libelf-dev zlib1g-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev curl
  # the live source's overhead benchmark compares with bpftrace
  bpftrace
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: missing packages: ${missing[*]}; run as root (or with sudo) to install them" >&2
  exit 1
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
