#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Checks everything building and testing the library calls; as root on
# Debian/Ubuntu it installs what is missing, otherwise (or with
# LKL_DEPS_NO_INSTALL=1) it prints the one command that would.
#
# The list below is every program the build runs outside the Essential set
# (tests/deps-check.sh hides each in turn and checks it is named).
set -euo pipefail

need_pkgs=()
check_cmd() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }

check_cmd gcc gcc
check_cmd g++ g++		# node-gyp builds the addon
check_cmd make make
check_cmd flex flex
check_cmd bison bison
check_cmd bc bc
check_cmd python3 python3
check_cmd perl perl
check_cmd prove perl
for tool in ld as ar nm objcopy; do check_cmd "$tool" binutils; done
check_cmd tar tar
check_cmd xz xz-utils
check_cmd patch patch
check_cmd rsync rsync		# the kernel's headers_install
check_cmd cmp diffutils
check_cmd find findutils
check_cmd xargs findutils
check_cmd ccache ccache
[ -f "${LKL_DEPS_INCLUDE_DIR:-/usr/include}/liburing.h" ] || need_pkgs+=(liburing-dev)
check_cmd mke2fs e2fsprogs
check_cmd e2fsck e2fsprogs
check_cmd debugfs e2fsprogs
check_cmd dumpe2fs e2fsprogs
check_cmd tune2fs e2fsprogs	# tests: an image that asks for a panic on errors
check_cmd valgrind valgrind	# a test checks for use after free
check_cmd fio fio		# npm run bench: the host io_uring baseline
if [ -n "${LKL_KERNEL_SOURCE:-}" ]; then
	if [ ! -e "$LKL_KERNEL_SOURCE" ]; then
		echo "error: LKL_KERNEL_SOURCE=$LKL_KERNEL_SOURCE does not exist" >&2
		echo "Set it to a 6.12.y tarball or unpacked tree, or unset it to use linux-source-6.12." >&2
		exit 1
	fi
elif [ ! -f /usr/src/linux-source-6.12.tar.xz ]; then
	need_pkgs+=(linux-source-6.12)
fi

[ ${#need_pkgs[@]} -eq 0 ] && exit 0
mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
cmd="apt-get update && apt-get install -y --no-install-recommends ${need_pkgs[*]}"

if [ "$(id -u)" = 0 ] && [ -z "${LKL_DEPS_NO_INSTALL:-}" ] && command -v apt-get >/dev/null 2>&1; then
	echo "  DEPS    installing: ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"; } >/tmp/lkl-deps.log 2>&1; then
		echo "error: installing packages failed; see /tmp/lkl-deps.log" >&2
		tail -20 /tmp/lkl-deps.log >&2
		exit 1
	fi
	exit 0
fi
echo "error: missing build dependencies: ${need_pkgs[*]}" >&2
echo "Install them with:  sudo sh -c '$cmd'" >&2
exit 1
