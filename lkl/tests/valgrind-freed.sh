#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs a C test under valgrind and fails if valgrind saw any access to freed
# memory.  Only that class of report is used: switching between kernel
# contexts on their own stacks makes memcheck report stack accesses it
# cannot follow, which are not errors.
set -u
test_bin=$1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "1..2"
if valgrind --run-libc-freeres=no --log-file="$log" "$test_bin" >/dev/null 2>&1; then
	echo "ok 1 - $(basename "$test_bin") passes under valgrind"
else
	echo "not ok 1 - $(basename "$test_bin") passes under valgrind"
fi
if grep -q "free'd" "$log"; then
	echo "not ok 2 - no access to freed memory"
	grep -B2 -A14 "free'd" "$log" | sed 's/^/# /' | head -60
else
	echo "ok 2 - no access to freed memory"
fi
