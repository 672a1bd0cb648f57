# SPDX-License-Identifier: GPL-2.0-only
# C tests (TAP, run with prove) and the benchmark; included by lkl/Makefile.

TEST_NAMES := boot panic panic-irq thread-exit disk halt socket \
              syslet syslet-halt syslet-panic syslet-fuzz image-fuzz
TEST_BINS  := $(addprefix $(OUT)/tests/,$(TEST_NAMES))
# The disk tests run once per block backend.
TEST_RUNS  := $(OUT)/tests/boot $(OUT)/tests/panic $(OUT)/tests/panic-irq \
              $(OUT)/tests/halt $(OUT)/tests/disk-uring $(OUT)/tests/disk-threads \
              $(OUT)/tests/socket $(OUT)/tests/thread-exit-valgrind \
              $(OUT)/tests/syslet $(OUT)/tests/syslet-halt $(OUT)/tests/syslet-panic \
              $(OUT)/tests/syslet-fuzz $(OUT)/tests/image-fuzz \
              $(LKL_DIR)/tests/deps-check.sh

$(OUT)/tests/disk-%: $(OUT)/tests/disk
	@printf '#!/bin/sh\nLKL_DISK_BACKEND=%s exec "$$(dirname "$$0")/disk"\n' $* > $@
	@chmod +x $@
$(OUT)/tests/thread-exit-valgrind: $(OUT)/tests/thread-exit
	@printf '#!/bin/sh\nexec %s "$$(dirname "$$0")/thread-exit"\n' $(LKL_DIR)/tests/valgrind-freed.sh > $@
	@chmod +x $@
TEST_CFLAGS := -O2 -g -Wall -Wno-unused-function -I$(OUT)/include -I$(LKL_DIR)/tests

$(OUT)/tests/%: $(LKL_DIR)/tests/%.c $(wildcard $(LKL_DIR)/tests/*.h) $(OUT)/liblkl.a $(OUT)/include/lkl/syscalls.h $(PUBLIC_HEADERS)
	@mkdir -p $(dir $@)
	@echo "  TESTCC  $(notdir $@)"
	@$(CC) $(TEST_CFLAGS) $< $(OUT)/liblkl.a -luring -lpthread -o $@

check: all $(TEST_BINS) $(TEST_RUNS)
	@prove -v $(TEST_RUNS)

$(OUT)/bench/bench: $(LKL_DIR)/tests/bench.c $(OUT)/liblkl.a $(OUT)/include/lkl/syscalls.h $(PUBLIC_HEADERS)
	@mkdir -p $(dir $@)
	@$(CC) $(TEST_CFLAGS) $< $(OUT)/liblkl.a -luring -lpthread -o $@

bench: all $(OUT)/bench/bench
	@$(OUT)/bench/bench $(BENCH_ARGS)
