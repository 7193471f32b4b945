#!/usr/bin/env bash
# Install the system libraries hat builds against (Debian 12, as root): OpenMPI, parallel HDF5 (OpenMPI
# flavour) with its tools, OpenBLAS + LAPACKE, pkg-config, and h5py + matplotlib for scripts/figures.py.
# The Swift toolchain itself must be on PATH.
set -euo pipefail
packages=(libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libopenblas-dev liblapacke-dev pkg-config python3-h5py python3-matplotlib)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ] || [ "${HAT_FORCE_APT:-0}" = 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root to install: ${missing[*]}" >&2; exit 1; fi
  echo "setup: installing ${missing[*]:-${packages[*]}}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: the Swift toolchain (swift) is not on PATH" >&2; exit 1; }
echo "setup: system libraries present"
