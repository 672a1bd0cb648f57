#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Checks what building the kernel library needs; as root on Debian/Ubuntu it
# installs what is missing, otherwise it prints the one command that would.
set -euo pipefail

need_pkgs=()
check_cmd() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }

check_cmd gcc build-essential
check_cmd make build-essential
check_cmd flex flex
check_cmd bison bison
check_cmd bc bc
check_cmd python3 python3
check_cmd prove perl
check_cmd objcopy binutils
check_cmd xz xz-utils
check_cmd ccache ccache
[ -f /usr/include/liburing.h ] || need_pkgs+=(liburing-dev)
check_cmd mke2fs e2fsprogs
check_cmd e2fsck e2fsprogs
check_cmd debugfs e2fsprogs
if [ -z "${LKL_KERNEL_SOURCE:-}" ] && [ ! -f /usr/src/linux-source-6.12.tar.xz ]; then
	need_pkgs+=(linux-source-6.12)
fi

[ ${#need_pkgs[@]} -eq 0 ] && exit 0
mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
cmd="apt-get update && apt-get install -y --no-install-recommends ${need_pkgs[*]}"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
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
