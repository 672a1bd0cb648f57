# SPDX-License-Identifier: GPL-2.0-only
# C tests (TAP, run with prove) and the benchmark; included by lkl/Makefile.

TEST_NAMES := boot panic
TEST_BINS  := $(addprefix $(OUT)/tests/,$(TEST_NAMES))
TEST_CFLAGS := -O2 -g -Wall -Wno-unused-function -I$(OUT)/include -I$(LKL_DIR)/tests

$(OUT)/tests/%: $(LKL_DIR)/tests/%.c $(LKL_DIR)/tests/test.h $(OUT)/liblkl.a $(OUT)/include/lkl/syscalls.h
	@mkdir -p $(dir $@)
	@echo "  TESTCC  $(notdir $@)"
	@$(CC) $(TEST_CFLAGS) $< $(OUT)/liblkl.a -lpthread -o $@

check: all $(TEST_BINS)
	@prove -v $(TEST_BINS)

$(OUT)/bench/bench: $(LKL_DIR)/tests/bench.c $(OUT)/liblkl.a $(OUT)/include/lkl/syscalls.h
	@mkdir -p $(dir $@)
	@$(CC) $(TEST_CFLAGS) $< $(OUT)/liblkl.a -lpthread -o $@

bench: all $(OUT)/bench/bench
	@$(OUT)/bench/bench $(BENCH_ARGS)
