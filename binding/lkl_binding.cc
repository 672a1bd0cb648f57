// SPDX-License-Identifier: GPL-2.0-only
//
// The Node.js addon: marshal JavaScript values, call the kernel library,
// return raw results.  Validation and error objects live in TypeScript
// (ts/); this layer only guarantees that no call lets the kernel touch
// memory outside the buffers it was handed: every syscall goes through
// lkl_syscall_confined() with exactly those buffers as its window.
//
// The kernel is one per process.  Each thread (main or worker) that loads
// the addon gets its own instance of this class; the kernel state below is
// shared by all of them.

#include <napi.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <lkl.h>
#include <lkl/asm/stat.h>
#include <lkl/asm/unistd.h>

#include "syslets.h"

// The memory of a TypedArray or DataView, and of an ArrayBuffer when
// @arraybuffers; false for any other value.  A detached buffer yields no
// memory (start 0, length 0).  Shared with syslets.cc (syslets.h).
bool BufferMemory(napi_env env, napi_value value, char** data, size_t* len,
                  bool arraybuffers) {
  bool is;
  void* base = nullptr;
  size_t length = 0;
  napi_value arraybuffer;
  size_t offset;

  if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t elements;
    if (napi_get_typedarray_info(env, value, &type, &elements, &base,
                                 &arraybuffer, &offset) != napi_ok)
      return false;
    static const size_t kElementSize[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8};
    length = elements * (type < 11 ? kElementSize[type] : 1);
  } else if (napi_is_dataview(env, value, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, value, &length, &base, &arraybuffer,
                               &offset) != napi_ok)
      return false;
  } else if (arraybuffers && napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, value, &base, &length) != napi_ok)
      return false;
  } else {
    return false;
  }
  if (!base)
    length = 0;
  *data = static_cast<char*>(base);
  *len = length;
  return true;
}

namespace {

enum KernelState : int {
  kNeverBooted = 0,
  kRunning = 1,
  kHalted = 2,
  kDead = 3,
};

std::atomic<int> kernel_state{kNeverBooted};

// Console text not yet taken by JavaScript.  Bounded: if nobody drains it,
// the oldest text goes (the JavaScript side keeps its own bounded tail).
constexpr size_t kConsoleBacklogMax = 256 * 1024;
std::mutex console_mutex;
std::string console_backlog;
// The last lines, never drained: what errors on any thread attach.
constexpr size_t kConsoleRecentMax = 16 * 1024;
std::string console_recent;
// The booting thread's listener, told (without waiting) that text arrived.
// Guarded by console_mutex: its thread may end (a worker) before the kernel.
Napi::ThreadSafeFunction console_listener;
bool console_listener_set = false;
std::atomic<bool> console_notify_pending{false};

// Runs on the listening thread.  Not while its environment is torn down
// (env is null then), and a throwing listener must not abort the process.
void DeliverConsole(Napi::Env env, Napi::Function listener) {
  if (env == nullptr || listener.IsEmpty())
    return;
  napi_value ignored;
  napi_call_function(env, env.Undefined(), listener, 0, nullptr, &ignored);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
  }
}

void OnConsole(const char* text, size_t len, void* /*ctx*/) {
  {
    std::lock_guard<std::mutex> lock(console_mutex);
    console_backlog.append(text, len);
    if (console_backlog.size() > kConsoleBacklogMax)
      console_backlog.erase(0, console_backlog.size() - kConsoleBacklogMax);
    console_recent.append(text, len);
    if (console_recent.size() > kConsoleRecentMax) {
      // Cut at a line start so every kept line is whole.
      size_t cut = console_recent.find('\n', console_recent.size() - kConsoleRecentMax);
      console_recent.erase(0, cut == std::string::npos ? console_recent.size() : cut + 1);
    }
    // Called on kernel threads holding the CPU: never wait for JavaScript.
    if (console_listener_set && !console_notify_pending.exchange(true))
      console_listener.NonBlockingCall(DeliverConsole);
  }
}

// The listener's thread ended (or it was released): stop notifying it.
void ForgetConsoleListener(Napi::Env, void*, void*) {
  std::lock_guard<std::mutex> lock(console_mutex);
  console_listener_set = false;
}

// The last resort against lost data: if the kernel still runs when the
// process exits (the thread that booted it ended without halting), write
// everything back.  JavaScript is gone by now: tell it nothing.
void HaltAtExit() {
  {
    std::lock_guard<std::mutex> lock(console_mutex);
    console_listener_set = false;
  }
  if (kernel_state.load() == kRunning) {
    lkl_halt();
    kernel_state.store(kHalted);
  }
}

void OnPanic(const char* /*message*/, void* /*ctx*/) {
  kernel_state.store(kDead);
  // The kernel posted -ENOTRECOVERABLE to every chain in flight; wake the
  // rings whose completions could not be posted (a full ring) too.
  lkl_syslets::WakeAllRings();
}

// Fields of struct lkl_stat, in the order ts/stats.ts reads them.
constexpr size_t kStatFields = 16;

void StatToDoubles(const struct lkl_stat& st, double* out) {
  out[0] = static_cast<double>(st.st_dev);
  out[1] = static_cast<double>(st.st_mode);
  out[2] = static_cast<double>(st.st_nlink);
  out[3] = static_cast<double>(st.st_uid);
  out[4] = static_cast<double>(st.st_gid);
  out[5] = static_cast<double>(st.st_rdev);
  out[6] = static_cast<double>(st.st_blksize);
  out[7] = static_cast<double>(st.st_ino);
  out[8] = static_cast<double>(st.st_size);
  out[9] = static_cast<double>(st.st_blocks);
  out[10] = static_cast<double>(st.st_atime);
  out[11] = static_cast<double>(st.st_atime_nsec);
  out[12] = static_cast<double>(st.st_mtime);
  out[13] = static_cast<double>(st.st_mtime_nsec);
  out[14] = static_cast<double>(st.st_ctime);
  out[15] = static_cast<double>(st.st_ctime_nsec);
}


class LklBinding : public Napi::Addon<LklBinding> {
 public:
  LklBinding(Napi::Env env, Napi::Object exports) {
    DefineAddon(
        exports,
        {
            InstanceMethod("boot", &LklBinding::Boot),
            InstanceMethod("halt", &LklBinding::Halt),
            InstanceMethod("state", &LklBinding::State),
            InstanceMethod("listenConsole", &LklBinding::ListenConsole),
            InstanceMethod("takeConsole", &LklBinding::TakeConsole),
            InstanceMethod("consoleTail", &LklBinding::ConsoleTail),
            InstanceMethod("setStatArray", &LklBinding::SetStatArray),
            InstanceMethod("syscall", &LklBinding::Syscall),
            InstanceMethod("io", &LklBinding::Io),
            InstanceMethod("stat", &LklBinding::Stat),
            InstanceMethod("getpid", &LklBinding::Getpid),
            InstanceMethod("diskAttach", &LklBinding::DiskAttach),
            InstanceMethod("diskDetach", &LklBinding::DiskDetach),
            InstanceMethod("mount", &LklBinding::Mount),
            InstanceMethod("umount", &LklBinding::Umount),
            InstanceMethod("diskBackend", &LklBinding::DiskBackend),
            InstanceMethod("kernelRelease", &LklBinding::KernelRelease),
            InstanceMethod("hostThreadCount", &LklBinding::HostThreadCount),
            InstanceMethod("stats", &LklBinding::Stats),
            InstanceMethod("testPanic", &LklBinding::TestPanic),
            InstanceMethod("ringCreate", &LklBinding::RingCreate),
            InstanceMethod("ringConsume", &LklBinding::RingConsume),
            InstanceMethod("ringNotify", &LklBinding::RingNotify),
            InstanceMethod("ringAbandon", &LklBinding::RingAbandon),
            InstanceMethod("ringClose", &LklBinding::RingClose),
            InstanceMethod("ringInfo", &LklBinding::RingInfo),
            InstanceMethod("ringWakeups", &LklBinding::RingWakeups),
            InstanceMethod("asyncExec", &LklBinding::AsyncExec),
            InstanceMethod("asyncPrepare", &LklBinding::AsyncPrepare),
            InstanceMethod("asyncPatch", &LklBinding::AsyncPatch),
        });
    // The submission hot path, as a plain N-API callback: no wrapper.
    napi_value submit;
    if (napi_create_function(env, "asyncSubmit", NAPI_AUTO_LENGTH, lkl_syslets::AsyncSubmit,
                             nullptr, &submit) == napi_ok)
      exports.Set("asyncSubmit", Napi::Value(env, submit));
  }

 private:
  // Where stat() writes its kStatFields values (a Float64Array of ts/).
  Napi::Reference<Napi::Float64Array> stat_array_;
  double* stat_values_ = nullptr;

  static int64_t Int(const Napi::CallbackInfo& info, size_t i) {
    napi_value v = info[i];
    int64_t result = 0;
    bool lossless;
    if (napi_get_value_int64(info.Env(), v, &result) == napi_ok)
      return result;
    if (napi_get_value_bigint_int64(info.Env(), v, &result, &lossless) ==
        napi_ok)
      return result;
    return 0;
  }

  // A result as a Number when a double holds it exactly, else as a BigInt
  // (an lseek past 2^53): never a rounded value.
  static Napi::Value Result(Napi::Env env, long ret) {
    constexpr long kSafe = (1L << 53) - 1;
    if (ret < -kSafe || ret > kSafe)
      return Napi::BigInt::New(env, static_cast<int64_t>(ret));
    return Napi::Number::New(env, static_cast<double>(ret));
  }

  Napi::Value Boot(const Napi::CallbackInfo& info) {
    std::string cmdline = info[0].As<Napi::String>().Utf8Value();
    int expected = kNeverBooted;
    if (!kernel_state.compare_exchange_strong(expected, kRunning))
      return Result(info.Env(), -LKL_ERR_ALREADY_BOOTED);
    lkl_set_console_hook(OnConsole, nullptr);
    lkl_set_panic_hook(OnPanic, nullptr);
    lkl_syslets::Install();
    int ret = lkl_boot(cmdline.c_str());
    if (ret < 0)
      kernel_state.store(kHalted);
    else
      std::atexit(HaltAtExit);
    return Result(info.Env(), ret);
  }

  Napi::Value Halt(const Napi::CallbackInfo& info) {
    int ret = lkl_halt();
    // Halted only if the kernel really halted: a failed halt (a disk still
    // in use) leaves it running.
    if (ret == 0) {
      int state = kRunning;
      kernel_state.compare_exchange_strong(state, kHalted);
    }
    if (kernel_state.load() != kRunning) {
      // Chains the kernel cancelled were posted (-ECANCELED); the rings
      // whose completions could not be posted still hold Promises: their
      // threads drain them and settle the rest.
      lkl_syslets::WakeAllRings();
      std::lock_guard<std::mutex> lock(console_mutex);
      if (console_listener_set)
        console_listener.Release();
      console_listener_set = false;
    }
    return Result(info.Env(), ret);
  }

  Napi::Value State(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), kernel_state.load());
  }

  // listenConsole(fn): fn() is called on this thread when console text is
  // waiting in takeConsole().  Does not keep the event loop alive.
  Napi::Value ListenConsole(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(console_mutex);
    if (console_listener_set)
      return info.Env().Undefined();
    console_listener = Napi::ThreadSafeFunction::New(
        info.Env(), info[0].As<Napi::Function>(), "lkl:console", 0, 1,
        static_cast<void*>(nullptr), ForgetConsoleListener,
        static_cast<void*>(nullptr));
    console_listener.Unref(info.Env());
    console_listener_set = true;
    return info.Env().Undefined();
  }

  Napi::Value TakeConsole(const Napi::CallbackInfo& info) {
    std::string text;
    {
      std::lock_guard<std::mutex> lock(console_mutex);
      text.swap(console_backlog);
      console_notify_pending.store(false);
    }
    return Napi::String::New(info.Env(), text);
  }

  Napi::Value ConsoleTail(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(console_mutex);
    return Napi::String::New(info.Env(), console_recent);
  }

  Napi::Value SetStatArray(const Napi::CallbackInfo& info) {
    Napi::Float64Array array = info[0].As<Napi::Float64Array>();
    if (array.ElementLength() < kStatFields)
      throw Napi::RangeError::New(info.Env(), "stat array too short");
    stat_array_ = Napi::Persistent(array);
    stat_values_ = array.Data();
    return info.Env().Undefined();
  }

  // syscall(nr, ...args): integers (Number, BigInt) pass as they are;
  // TypedArrays, DataViews and ArrayBuffers pass as pointers, and are the
  // only memory the kernel may touch.
  Napi::Value Syscall(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    long args[6] = {0, 0, 0, 0, 0, 0};
    struct lkl_user_range ranges[6];
    unsigned int count = 0;
    long nr = static_cast<long>(Int(info, 0));

    for (size_t i = 1; i < info.Length() && i <= 6; i++) {
      napi_value v = info[i];
      napi_valuetype type;
      napi_typeof(env, v, &type);
      if (type == napi_number || type == napi_bigint) {
        args[i - 1] = static_cast<long>(Int(info, i));
      } else if (type == napi_undefined || type == napi_null) {
        args[i - 1] = 0;
      } else {
        char* data;
        size_t len;
        if (!BufferMemory(env, v, &data, &len, true))
          throw Napi::TypeError::New(
              env, "syscall arguments must be integers or buffers");
        args[i - 1] = reinterpret_cast<long>(data);
        ranges[count].start = reinterpret_cast<unsigned long>(data);
        ranges[count].len = len;
        count++;
      }
    }
    return Result(info.Env(), lkl_syscall_confined(nr, args, ranges, count));
  }

  // io(nr, fd, buffer, offset, length, position): read, write, pread64,
  // pwrite64 on buffer[offset, offset + length).
  Napi::Value Io(const Napi::CallbackInfo& info) {
    char* data;
    size_t len;
    if (!BufferMemory(info.Env(), info[2], &data, &len, true))
      throw Napi::TypeError::New(info.Env(), "io needs a buffer");
    int64_t offset = Int(info, 3);
    int64_t length = Int(info, 4);
    if (offset < 0 || length < 0 || static_cast<uint64_t>(offset) > len ||
        static_cast<uint64_t>(length) > len - offset)
      throw Napi::RangeError::New(info.Env(), "io range outside the buffer");
    struct lkl_user_range range = {
        reinterpret_cast<unsigned long>(data + offset),
        static_cast<unsigned long>(length)};
    long args[6] = {static_cast<long>(Int(info, 1)),
                    static_cast<long>(range.start), static_cast<long>(length),
                    static_cast<long>(Int(info, 5)), 0, 0};
    return Result(info.Env(),
                  lkl_syscall_confined(static_cast<long>(Int(info, 0)), args,
                                       &range, 1));
  }

  // stat(fd, path?, flags): fstat when path is undefined, else newfstatat;
  // fills the stat array on success.
  Napi::Value Stat(const Napi::CallbackInfo& info) {
    struct lkl_stat st;
    struct lkl_user_range ranges[2] = {
        {reinterpret_cast<unsigned long>(&st), sizeof(st)}, {0, 0}};
    long args[6] = {static_cast<long>(Int(info, 0)), 0, 0, 0, 0, 0};
    long ret;

    if (!stat_values_)
      throw Napi::Error::New(info.Env(), "setStatArray was not called");
    if (info[1].IsUndefined()) {
      args[1] = reinterpret_cast<long>(&st);
      ret = lkl_syscall_confined(__LKL_NR_fstat, args, ranges, 1);
    } else {
      char* path;
      size_t len;
      if (!BufferMemory(info.Env(), info[1], &path, &len, true))
        throw Napi::TypeError::New(info.Env(), "stat path must be a buffer");
      ranges[1].start = reinterpret_cast<unsigned long>(path);
      ranges[1].len = len;
      args[1] = reinterpret_cast<long>(path);
      args[2] = reinterpret_cast<long>(&st);
      args[3] = static_cast<long>(Int(info, 2));
      ret = lkl_syscall_confined(__LKL_NR_newfstatat, args, ranges, 2);
    }
    if (ret == 0)
      StatToDoubles(st, stat_values_);
    return Result(info.Env(), ret);
  }

  Napi::Value Getpid(const Napi::CallbackInfo& info) {
    static const long args[6] = {0, 0, 0, 0, 0, 0};
    return Result(info.Env(),
                  lkl_syscall_confined(__LKL_NR_getpid, args, nullptr, 0));
  }

  // diskAttach(path, readOnly, direct, latencyNs)
  Napi::Value DiskAttach(const Napi::CallbackInfo& info) {
    std::string path = info[0].As<Napi::String>().Utf8Value();
    struct lkl_disk_options opts = {};
    opts.flags = (info[1].ToBoolean() ? LKL_DISK_READ_ONLY : 0) |
                 (info[2].ToBoolean() ? LKL_DISK_DIRECT : 0);
    int64_t latency = Int(info, 3);
    opts.latency_ns = latency > 0 ? static_cast<unsigned long long>(latency) : 0;
    return Result(info.Env(), lkl_disk_attach_opts(path.c_str(), &opts));
  }

  Napi::Value DiskDetach(const Napi::CallbackInfo& info) {
    return Result(info.Env(), lkl_disk_detach(static_cast<int>(Int(info, 0))));
  }

  // mount(disk, fstype, mountPoint, flags, options | undefined)
  Napi::Value Mount(const Napi::CallbackInfo& info) {
    std::string fstype = info[1].As<Napi::String>().Utf8Value();
    std::string mount_point = info[2].As<Napi::String>().Utf8Value();
    std::string options;
    bool has_options = info[4].IsString();
    if (has_options)
      options = info[4].As<Napi::String>().Utf8Value();
    return Result(info.Env(),
                  lkl_mount(static_cast<int>(Int(info, 0)), fstype.c_str(),
                            mount_point.c_str(),
                            static_cast<unsigned long>(Int(info, 3)),
                            has_options ? options.c_str() : nullptr));
  }

  Napi::Value Umount(const Napi::CallbackInfo& info) {
    std::string mount_point = info[0].As<Napi::String>().Utf8Value();
    return Result(info.Env(), lkl_umount(mount_point.c_str()));
  }

  Napi::Value DiskBackend(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), lkl_disk_backend());
  }

  Napi::Value KernelRelease(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), lkl_kernel_release());
  }

  Napi::Value HostThreadCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), lkl_host_thread_count());
  }

  // The library's counters, in the order of struct lkl_stats (ts/kernel.ts
  // names them).  Counters stay far below 2^53: numbers are exact.
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    struct lkl_stats stats;
    const unsigned long long* fields = reinterpret_cast<const unsigned long long*>(&stats);
    const size_t count = sizeof(stats) / sizeof(*fields);
    Napi::Array out = Napi::Array::New(info.Env(), count);

    lkl_stats(&stats, sizeof(stats));
    for (size_t i = 0; i < count; i++)
      out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(fields[i])));
    return out;
  }

  // Syslets (syslets.cc): rings and chain submission.
  Napi::Value RingCreate(const Napi::CallbackInfo& info) { return lkl_syslets::RingCreate(info); }
  Napi::Value RingConsume(const Napi::CallbackInfo& info) { return lkl_syslets::RingConsume(info); }
  Napi::Value RingNotify(const Napi::CallbackInfo& info) { return lkl_syslets::RingNotify(info); }
  Napi::Value RingAbandon(const Napi::CallbackInfo& info) { return lkl_syslets::RingAbandon(info); }
  Napi::Value RingClose(const Napi::CallbackInfo& info) { return lkl_syslets::RingClose(info); }
  Napi::Value RingInfo(const Napi::CallbackInfo& info) { return lkl_syslets::RingInfo(info); }
  Napi::Value RingWakeups(const Napi::CallbackInfo& info) { return lkl_syslets::RingWakeups(info); }
  Napi::Value AsyncExec(const Napi::CallbackInfo& info) { return lkl_syslets::AsyncExec(info); }
  Napi::Value AsyncPrepare(const Napi::CallbackInfo& info) { return lkl_syslets::AsyncPrepare(info); }
  Napi::Value AsyncPatch(const Napi::CallbackInfo& info) { return lkl_syslets::AsyncPatch(info); }

  // The panic hook works only when the kernel was booted with
  // "lkl_test_hooks=1"; otherwise this returns -ENOSYS.
  Napi::Value TestPanic(const Napi::CallbackInfo& info) {
    static const long args[6] = {0, 0, 0, 0, 0, 0};
    return Result(info.Env(), lkl_syscall(LKL_SYSCALL_TEST_PANIC, args));
  }
};

}  // namespace

int LklKernelState() {
  return kernel_state.load();
}

NODE_API_ADDON(LklBinding)
