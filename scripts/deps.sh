#!/usr/bin/env bash
# Installs the Debian packages memsweep needs to build and test, if any is missing.
set -euo pipefail
# clang and its runtime build the fuzzing and sanitizer gates; libunwind-dev builds a test
# program that brings its own unwinder; r-base-core runs R's parallel::mclapply under the
# shim (test_r_mclapply.sh); parallel runs `memsweep exec` as GNU parallel users do (test_exec.sh);
# slurmctld, slurmd, slurm-client and munge make the single-node SLURM that test_slurm.sh
# starts by itself; libdw-dev symbolizes stacks offline; chromium loads `memsweep report`'s
# page in test_report.sh.
packages=(cmake gcc g++ libc6-dev make pkg-config libsqlite3-dev libcmocka-dev
          sqlite3 python3 time libjemalloc2 xz-utils procps
          clang libclang-rt-14-dev libunwind-dev r-base-core parallel
          slurmctld slurmd slurm-client munge libdw-dev chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "memsweep: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
