#!/usr/bin/env bash
# Installs every Debian package troupe needs to build, test and run.
# Idempotent and non-interactive: safe to run again; does nothing when all is present.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config cmake
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libboost-dev
  doctest-dev libdnnl-dev ocl-icd-opencl-dev opencl-c-headers nlohmann-json3-dev libreadline-dev libtomlplusplus-dev libcli11-dev
  zlib1g-dev dataset-fashion-mnist libsystemd-dev libssl-dev
  clang-14 libclang-rt-14-dev
  iproute2 procps tmux python3
)
# Optional extras (tests skip with 77 without them) are listed with --extras.
# The operations suite (tests/ops) starts its own munged, slurmctld, slurmd and
# prometheus from these packages (about 110 MB, prometheus 96 of them); it
# never uses the system services they install. systemd gives systemd-analyze.
extras=(chromium python3-torch python3-numpy libopenblas0-pthread libeigen3-dev python3-zmq python3-msgpack
        slurmctld slurmd munge prometheus systemd)
if [[ "${1:-}" == "--extras" ]]; then packages+=("${extras[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install_deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
