#!/usr/bin/env bash
# Install what pagevisor needs to build, test and benchmark, from Debian's
# packages.  As root it runs apt-get; otherwise it prints what to install.
#   build:  gcc, cmake, make, pkg-config, liburing-dev, libfdt-dev, check
#   tests:  jq (integration tests read the VMM's JSON)
#   fuzz:   clang, libclang-rt-14-dev (libFuzzer: tests/fuzz/run)
#   bench:  gnuplot-nox (plots)
set -euo pipefail

pkgs=(gcc cmake make pkg-config liburing-dev libfdt-dev check jq gnuplot-nox clang
	libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}" >&2
	echo "setup: install them with: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
