// SPDX-License-Identifier: GPL-2.0-only
//
// Syslets from JavaScript: completion rings in native memory, chains laid
// out natively, submissions made with lkl_syscall_confined() (see
// syslets.cc and docs/syslets.md, "JavaScript").

#ifndef LKL_NODE_SYSLETS_H
#define LKL_NODE_SYSLETS_H

#include <napi.h>

namespace lkl_syslets {

// Installs the kernel's ring notify hook (once per process).
void Install();

// After a halt or a panic: wakes every ring with submissions in flight, so
// its thread drains it and settles what the kernel will never post.  Never
// calls into the kernel; safe from the panic hook.
void WakeAllRings();

Napi::Value RingCreate(const Napi::CallbackInfo& info);
Napi::Value RingConsume(const Napi::CallbackInfo& info);
Napi::Value RingNotify(const Napi::CallbackInfo& info);
Napi::Value RingAbandon(const Napi::CallbackInfo& info);
Napi::Value RingClose(const Napi::CallbackInfo& info);
Napi::Value RingInfo(const Napi::CallbackInfo& info);
Napi::Value RingWakeups(const Napi::CallbackInfo& info);
Napi::Value AsyncExec(const Napi::CallbackInfo& info);
Napi::Value AsyncPrepare(const Napi::CallbackInfo& info);
Napi::Value AsyncPatch(const Napi::CallbackInfo& info);
napi_value AsyncSubmit(napi_env env, napi_callback_info info);

}  // namespace lkl_syslets

// The memory of a TypedArray or DataView, and of an ArrayBuffer when
// @arraybuffers (lkl_binding.cc).
bool BufferMemory(napi_env env, napi_value value, char** data, size_t* len,
                  bool arraybuffers);

// The kernel's state as the addon tracks it (lkl_binding.cc): 0 never
// booted, 1 running, 2 halted, 3 dead.
int LklKernelState();

#endif  // LKL_NODE_SYSLETS_H
