/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel is linked relocatably ("ld -r") and placed by the final link of
 * the program or shared library that uses it, so no addresses are assigned
 * here; the script only gathers the kernel's special sections and defines
 * the symbols that delimit them.
 */
#include <asm/page.h>
#include <asm/cache.h>
#include <asm/thread_info.h>
#include <asm-generic/vmlinux.lds.h>

jiffies = jiffies_64;

SECTIONS
{
	.text : {
		_text = .;
		_stext = .;
		HEAD_TEXT
		TEXT_TEXT
		SCHED_TEXT
		LOCK_TEXT
		KPROBES_TEXT
		_etext = .;
	}

	.init.text : {
		__init_begin = .;
		_sinittext = .;
		INIT_TEXT
		_einittext = .;
	}

	INIT_DATA_SECTION(16)
	PERCPU_SECTION(L1_CACHE_BYTES)

	.init.end : {
		__init_end = .;
	}

	_sdata = .;
	RO_DATA(PAGE_SIZE)
	RW_DATA(L1_CACHE_BYTES, PAGE_SIZE, THREAD_SIZE)
	_edata = .;

	EXCEPTION_TABLE(16)

	/* Fixups of inline user accesses (asm/uaccess.h). */
	__lkl_user_fixups : {
		__start_lkl_user_fixups = .;
		KEEP(*(__lkl_user_fixups))
		__stop_lkl_user_fixups = .;
	}

	BSS_SECTION(0, 0, 0)
	_end = .;

	STABS_DEBUG
	DWARF_DEBUG
	ELF_DETAILS

	DISCARDS
}
