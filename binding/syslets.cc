// SPDX-License-Identifier: GPL-2.0-only
//
// Syslets from JavaScript (docs/syslets.md, "JavaScript").
//
// A ring is native memory (struct lkl_syslet_ring and its entries, 64-byte
// aligned, never moved) that JavaScript reads through an external
// ArrayBuffer with Atomics.  A submission is a native arena holding the
// chain's atoms, argument and result slots, and a bounce copy of every data
// buffer the chain uses: the kernel never sees JavaScript memory, which may
// be detached, transferred or moved by the garbage collector while a chain
// is in flight.  Data is copied in at submission (writes, paths) and out to
// the JavaScript buffers on the submitting thread when the completion is
// consumed (reads, stat structures).
//
// Every async_exec is made with lkl_syscall_confined(), whose window is the
// arena's pieces and the ring: nothing else.  Pointer arguments are always
// arena addresses computed here, never integers from JavaScript, and byte
// counts are checked against their buffer, so no atom can make the kernel
// write into the ring or the atoms (which would forge completions).
//
// Threads: everything about a ring happens on the thread that created it
// (its event loop), except the kernel's notify hook, which only looks the
// ring up and calls uv_async_send() under registry_mutex.  No thread holds
// registry_mutex while calling into the kernel.

#include "syslets.h"

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <lkl.h>
#include <lkl/asm/unistd.h>
// The uapi header names the "private" field private_data in C++.
#include <lkl/syslet.h>

static_assert(sizeof(struct lkl_syslet_atom) == 80, "atom layout");
static_assert(offsetof(struct lkl_syslet_atom, private_data) == 72, "atom layout");
static_assert(sizeof(struct lkl_syslet_ring) == 16, "ring layout");
static_assert(sizeof(struct lkl_syslet_completion) == 16, "completion layout");

namespace lkl_syslets {
namespace {

constexpr int kKernelRunning = 1;
constexpr int64_t kNotRun = INT64_MIN;  // a result slot whose atom did not run
// Ranges of a window: the atoms and slots, the ring, and the data buffers.
constexpr uint32_t kMaxRegions = LKL_SYSLET_MAX_RANGES - 2;
constexpr size_t kMaxArena = size_t{1} << 30;  // 1 GiB of bounce memory per chain
constexpr size_t kAtomFields = 4 + 6 * 3;      // see ParseChain
constexpr size_t kScratchBytes = 64;           // Ring::scratch

// A data buffer of a chain: a bounce copy of [view_offset, + length) of a
// JavaScript view.
struct Region {
  char* bounce = nullptr;
  size_t length = 0;
  size_t view_offset = 0;
  uint32_t ref_index = 0;  // in the submission's refs array
  bool copy_in = false;     // taken from the view at every run (writes, paths)
  bool dataview = false;    // the view is a DataView (else a TypedArray)
  bool copy_out = false;    // an atom's output is copied back to the view
  napi_ref view = nullptr;  // kept while in flight, for the copy out
};

// A copy out of a region after the chain ran: mode 1 copies as many bytes
// as the atom returned (read), mode 2 the whole piece if it returned 0 (stat).
struct CopyOut {
  uint32_t atom;
  uint32_t region;
  size_t offset;
  size_t length;
  int mode;
};

struct Submission {
  uint64_t id = 0;
  char* arena = nullptr;
  size_t arena_bytes = 0;
  uint32_t natoms = 0;
  struct lkl_syslet_atom* atoms = nullptr;
  int64_t* results = nullptr;
  uint32_t results_index = 0;
  napi_ref results_ref = nullptr;
  // A prepared chain's results BigInt64Array: private to its Syslet (never
  // handed to user code, so never detached) and made off-heap when its
  // address was taken, so its memory stays put while results_ref holds it.
  int64_t* js_results = nullptr;
  std::vector<Region> regions;
  std::vector<CopyOut> copy_outs;
  struct lkl_user_range ranges[LKL_SYSLET_MAX_RANGES];
  unsigned int nranges = 0;
  // Integer slots JavaScript may change between runs (asyncPatch): plain
  // numbers, never a pointer, a byte count or a result reference.
  std::vector<bool> patchable;
  // A prepared submission (asyncPrepare) is laid out once and run many
  // times: it belongs to its JavaScript handle and to one ring, and is only
  // freed when both its handle is gone and it is not in flight.
  bool prepared = false;
  bool in_flight = false;
  bool orphaned = false;  // the handle was finalized while in flight
  struct Ring* ring = nullptr;
  uint32_t token_index = 0;  // in prepared_chains
};

struct Ring {
  struct lkl_syslet_ring* mem = nullptr;
  size_t mem_size = 0;  // what the kernel may write: header and entries
  // After them, outside every window: asyncSubmit's result for JavaScript
  // (a plain store instead of an N-API call per submission).
  double* scratch = nullptr;
  uint32_t entries = 0;
  napi_env env = nullptr;
  uv_async_t async;
  // Owners: the handle, the ArrayBuffer, the open uv handle, and each
  // submission in flight (the kernel may write the ring until it posted).
  int refs = 0;
  bool closing = false;
  bool env_gone = false;
  napi_async_cleanup_hook_handle cleanup = nullptr;
  napi_ref drain = nullptr;  // strong while something is in flight
  napi_async_context context = nullptr;
  std::unordered_map<uint64_t, Submission*> in_flight;
  std::atomic<size_t> in_flight_count{0};
  uint32_t consumed = 0;  // completions taken (JavaScript's user_tail)
  double wakeups = 0;     // event-loop wake-ups (uv_async callbacks)
  std::atomic<uint64_t> hook_calls{0};
};

std::mutex registry_mutex;
std::unordered_map<uintptr_t, Ring*> registry;
std::atomic<uint64_t> total_wakeups{0};

// Rings whose handle is alive (finalized handles leave it): what a handle
// must point to.  Only touched on JavaScript threads, under registry_mutex.
std::unordered_map<Ring*, napi_env> live_handles;

void OnRingNotify(void* ring, void* /*ctx*/) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry.find(reinterpret_cast<uintptr_t>(ring));
  if (it == registry.end())
    return;  // not a ring of ours (or closed): nothing to wake
  it->second->hook_calls.fetch_add(1, std::memory_order_relaxed);
  uv_async_send(&it->second->async);
}

void Unref(Ring* r) {
  if (--r->refs > 0)
    return;
  std::free(r->mem);
  delete r;
}

void FreeSubmission(napi_env env, Submission* s) {
  if (env && s->prepared) {
    int64_t ignored;
    napi_adjust_external_memory(env, -static_cast<int64_t>(s->arena_bytes), &ignored);
  }
  if (env) {
    if (s->results_ref)
      napi_delete_reference(env, s->results_ref);
    for (Region& rg : s->regions)
      if (rg.view)
        napi_delete_reference(env, rg.view);
  }
  std::free(s->arena);
  delete s;
}

// A submission's completion was consumed, or will never come: free it,
// unless it is prepared and its handle keeps it for the next run.
void Retire(napi_env env, Submission* s) {
  s->in_flight = false;
  if (s->prepared && !s->orphaned)
    return;
  Ring* owner = s->prepared ? s->ring : nullptr;
  FreeSubmission(env, s);
  if (owner)
    Unref(owner);  // the reference the prepared handle held
}

void OnClosed(uv_handle_t* handle) {
  Ring* r = static_cast<Ring*>(handle->data);
  if (r->drain)
    napi_delete_reference(r->env, r->drain);
  r->drain = nullptr;
  if (r->context)
    napi_async_destroy(r->env, r->context);
  r->context = nullptr;
  if (r->cleanup) {
    napi_async_cleanup_hook_handle h = r->cleanup;
    r->cleanup = nullptr;
    napi_remove_async_cleanup_hook(h);
  }
  Unref(r);
}

// No more wake-ups: out of the registry, uv handle closed.  Submissions in
// flight keep the ring's memory (the kernel may still post to it).
void Shutdown(Ring* r) {
  if (r->closing)
    return;
  r->closing = true;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    registry.erase(reinterpret_cast<uintptr_t>(r->mem));
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&r->async), OnClosed);
}

// The thread's environment goes away (a worker ends).  Chains still in
// flight keep their arenas and the ring's memory for the kernel: leaked
// until the process exits, never freed under it.
void OnEnvCleanup(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
  Ring* r = static_cast<Ring*>(arg);
  r->env_gone = true;
  Shutdown(r);  // if already closing, OnClosed removes the hook
}

void FinalizeHandle(napi_env /*env*/, void* data, void* /*hint*/) {
  Ring* r = static_cast<Ring*>(data);
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    live_handles.erase(r);
  }
  Shutdown(r);
  Unref(r);
}

void FinalizeArrayBuffer(napi_env /*env*/, void* /*data*/, void* hint) {
  Unref(static_cast<Ring*>(hint));
}

void OnAsync(uv_async_t* handle) {
  Ring* r = static_cast<Ring*>(handle->data);
  if (r->closing || r->env_gone)
    return;
  r->wakeups++;
  total_wakeups.fetch_add(1, std::memory_order_relaxed);
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok)
    return;
  napi_value fn = nullptr;
  if (r->drain && napi_get_reference_value(env, r->drain, &fn) == napi_ok && fn) {
    napi_value recv, result;
    napi_get_global(env, &recv);  // napi_make_callback needs an object
    napi_make_callback(env, r->context, recv, fn, 0, nullptr, &result);
    // The drain does not throw; should it, report it as uncaught rather
    // than leave it pending for the next call on this thread.
    bool pending = false;
    napi_value error;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &error) == napi_ok)
      napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

Ring* GetRing(const Napi::CallbackInfo& info, size_t i = 0) {
  napi_env env = info.Env();
  napi_value v = info[i];
  napi_valuetype type;
  void* data = nullptr;
  if (napi_typeof(env, v, &type) == napi_ok && type == napi_external &&
      napi_get_value_external(env, v, &data) == napi_ok && data) {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = live_handles.find(static_cast<Ring*>(data));
    if (it != live_handles.end() && it->second == env)
      return it->first;
  }
  throw Napi::TypeError::New(env, "not a ring handle of this thread");
}

// The memory of a TypedArray or DataView (ArrayBuffers are not used here);
// a detached view has length 0.
bool ViewMemory(napi_env env, napi_value value, char** data, size_t* len) {
  return BufferMemory(env, value, data, len, false);
}

// The memory of a view of a known kind (checked when the chain was laid
// out; a value cannot change kind): one N-API call instead of two or three.
bool KnownViewMemory(napi_env env, napi_value value, bool dataview, char** data, size_t* len) {
  void* base = nullptr;
  size_t length = 0;
  if (dataview) {
    if (napi_get_dataview_info(env, value, &length, &base, nullptr, nullptr) != napi_ok)
      return false;
  } else {
    static const size_t kElementSize[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8};
    napi_typedarray_type type;
    if (napi_get_typedarray_info(env, value, &type, &length, &base, nullptr, nullptr) != napi_ok)
      return false;
    length *= type < 11 ? kElementSize[type] : 1;
  }
  *data = static_cast<char*>(base);
  *len = base ? length : 0;
  return true;
}

void InFlightAdd(Ring* r, Submission* s) {
  r->in_flight.emplace(s->id, s);
  r->refs++;
  if (r->in_flight_count.fetch_add(1) == 0) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&r->async));
    uint32_t count;
    napi_reference_ref(r->env, r->drain, &count);
  }
}

void InFlightRemove(Ring* r) {
  if (r->in_flight_count.fetch_sub(1) == 1 && !r->closing) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&r->async));
    uint32_t count;
    napi_reference_unref(r->env, r->drain, &count);
  }
}

// The argument kinds of the description (ts/syslet.ts writes them).
enum ArgKind { kAbsent = 0, kNumber = 1, kBigInt = 2, kResult = 3, kPointer = 4 };

// What each system call of the builder takes: i an integer (a value or an
// earlier result), p a pointer the kernel reads (a path), P a pointer the
// kernel reads followed by its byte count c, o a pointer the kernel writes
// followed by its count c, S a struct stat (128 bytes), X a struct statx
// (256 bytes), n a pointer that must be NULL (absent).  No other call can
// be laid out.
const char* ArgSpec(uint32_t nr) {
  switch (nr) {
    case __LKL_NR_openat: return "ipii";
    case __LKL_NR_read: return "ioc";
    case __LKL_NR_write: return "iPc";
    case __LKL_NR_pread64: return "ioci";
    case __LKL_NR_pwrite64: return "iPci";
    case __LKL_NR_getdents64: return "ioc";
    case __LKL_NR_fstat: return "iS";
    case __LKL_NR_statx: return "ipiiX";
    case __LKL_NR_close: return "i";
    case __LKL_NR_fsync: return "i";
    case __LKL_NR_lseek: return "iii";
    case __LKL_NR_mkdirat: return "ipi";
    case __LKL_NR_unlinkat: return "ipi";
    case __LKL_NR_renameat2: return "ipipi";
    case __LKL_NR_getpid: return "";
    case __LKL_NR_newfstatat: return "ipSi";
    case __LKL_NR_ftruncate: return "ii";
    case __LKL_NR_fdatasync: return "i";
    case __LKL_NR_fchmod: return "ii";
    case __LKL_NR_sendfile: return "iini";
    case __LKL_NR_faccessat: return "ipi";
    case __LKL_NR_fchmodat: return "ipi";
    case __LKL_NR_symlinkat: return "pip";
    case __LKL_NR_readlinkat: return "ipoc";
    case __LKL_NR_linkat: return "ipipi";
    case __LKL_NR_utimensat: return "ippi";  // times: 2 struct timespec the kernel reads
    default: return nullptr;
  }
}

class DescError {
 public:
  explicit DescError(const char* what) : what_(what) {}
  const char* what() const { return what_; }

 private:
  const char* what_;
};

// Lays out one chain from its description:
//   id, natoms, nregions, ncopyouts, results_index,
//   nregions x (ref_index, view_offset, length, copy_in),
//   natoms x (nr, flags, next (-1: end), 0, 6 x (kind, a, b)),
//   ncopyouts x (atom, region, offset, length, mode).
// Throws DescError for anything malformed: the description is internal,
// but nothing it says may make the kernel touch memory outside the arena.
Submission* ParseChain(napi_env env, const double* d, size_t len, napi_value refs, uint32_t nrefs) {
  size_t pos = 0;
  auto next = [&]() -> double {
    if (pos >= len)
      throw DescError("description too short");
    return d[pos++];
  };
  auto integer = [&](double lo, double hi) -> double {
    double v = next();
    if (!(v >= lo && v <= hi) || v != static_cast<double>(static_cast<int64_t>(v)))
      throw DescError("description value out of range");
    return v;
  };

  Submission* s = new Submission();
  try {
    s->id = static_cast<uint64_t>(integer(1, 9007199254740991.0));
    s->natoms = static_cast<uint32_t>(integer(1, LKL_SYSLET_MAX_ATOMS));
    uint32_t nregions = static_cast<uint32_t>(integer(0, kMaxRegions));
    uint32_t ncopy = static_cast<uint32_t>(integer(0, 4 * LKL_SYSLET_MAX_ATOMS));
    s->results_index = static_cast<uint32_t>(integer(0, nrefs - 1.0));
    if (len != 5 + nregions * 4 + s->natoms * kAtomFields + ncopy * 5)
      throw DescError("description length does not match its counts");

    // Regions: check each against its view now, size the arena.
    size_t head = s->natoms * (sizeof(struct lkl_syslet_atom) + 7 * sizeof(int64_t));
    size_t total = head;
    std::vector<size_t> at(nregions);
    std::vector<bool> copy_in(nregions);
    s->regions.resize(nregions);
    for (uint32_t i = 0; i < nregions; i++) {
      Region& rg = s->regions[i];
      rg.ref_index = static_cast<uint32_t>(integer(0, nrefs - 1.0));
      rg.view_offset = static_cast<size_t>(integer(0, 9007199254740991.0));
      rg.length = static_cast<size_t>(integer(0, static_cast<double>(kMaxArena)));
      copy_in[i] = integer(0, 1) == 1;
      rg.copy_in = copy_in[i];
      napi_value view;
      char* data;
      size_t vlen;
      if (napi_get_element(env, refs, rg.ref_index, &view) != napi_ok ||
          !ViewMemory(env, view, &data, &vlen))
        throw DescError("a buffer of the chain is not a TypedArray or DataView");
      if (rg.view_offset > vlen || rg.length > vlen - rg.view_offset)
        throw DescError("a buffer of the chain is shorter than its use (detached?)");
      bool is_dataview = false;
      napi_is_dataview(env, view, &is_dataview);
      rg.dataview = is_dataview;
      // Cache-line aligned: the kernel's and the copy back's block moves
      // run at full speed only on aligned memory.
      total = (total + 63) & ~size_t{63};
      at[i] = total;
      total += (rg.length + 7) & ~size_t{7};
      if (rg.length == 0)
        total += 8;
      if (total > kMaxArena)
        throw DescError("the chain's buffers exceed 1 GiB");
    }
    s->arena_bytes = (total + 63) & ~size_t{63};
    s->arena = static_cast<char*>(std::aligned_alloc(64, s->arena_bytes));
    if (!s->arena)
      throw DescError("out of memory for the chain's buffers");
    s->patchable.assign(size_t{s->natoms} * 6, false);
    s->atoms = reinterpret_cast<struct lkl_syslet_atom*>(s->arena);
    int64_t* slots = reinterpret_cast<int64_t*>(s->arena + s->natoms * sizeof(struct lkl_syslet_atom));
    s->results = slots + s->natoms * 6;
    std::memset(s->arena, 0, head);
    s->ranges[s->nranges++] = {reinterpret_cast<unsigned long>(s->arena), head};
    for (uint32_t i = 0; i < nregions; i++) {
      Region& rg = s->regions[i];
      rg.bounce = s->arena + at[i];
      size_t span = rg.length ? ((rg.length + 7) & ~size_t{7}) : 8;
      s->ranges[s->nranges++] = {reinterpret_cast<unsigned long>(rg.bounce), span};
      if (copy_in[i] && rg.length) {
        napi_value view;
        char* data;
        size_t vlen;
        napi_get_element(env, refs, rg.ref_index, &view);
        ViewMemory(env, view, &data, &vlen);
        std::memcpy(rg.bounce, data + rg.view_offset, rg.length);
      }
    }

    for (uint32_t i = 0; i < s->natoms; i++) {
      struct lkl_syslet_atom* atom = &s->atoms[i];
      uint32_t nr = static_cast<uint32_t>(integer(0, 0xffff));
      const char* spec = ArgSpec(nr);
      if (!spec)
        throw DescError("a system call the chain builder does not offer");
      atom->nr = nr;
      atom->flags = static_cast<uint32_t>(integer(0, LKL_SYSLET_FLAGS_ALL));
      double nxt = integer(-1, s->natoms - 1.0);
      integer(0, 0);
      atom->next = nxt < 0 ? 0 : reinterpret_cast<uint64_t>(&s->atoms[static_cast<uint32_t>(nxt)]);
      atom->ret_ptr = reinterpret_cast<uint64_t>(&s->results[i]);
      atom->private_data = s->id;
      s->results[i] = kNotRun;
      size_t nargs = std::strlen(spec);
      const Region* last_buffer = nullptr;
      size_t last_offset = 0;
      for (size_t j = 0; j < 6; j++) {
        int kind = static_cast<int>(integer(0, 4));
        double a = next();
        double b = next();
        int64_t* slot = &slots[i * 6 + j];
        char type = j < nargs ? spec[j] : 0;
        if (type == 0) {
          if (kind != kAbsent)
            throw DescError("too many arguments for the system call");
          continue;
        }
        if (type == 'n') {
          if (kind != kAbsent)
            throw DescError("a pointer argument that must be NULL is not absent");
          atom->arg_ptr[j] = 0;
          continue;
        }
        bool pointer = type == 'p' || type == 'P' || type == 'o' || type == 'S' || type == 'X';
        if (pointer) {
          if (kind != kPointer || !(a >= 0 && a < nregions) || !(b >= 0) || b != static_cast<double>(static_cast<int64_t>(b)))
            throw DescError("a pointer argument must point into a buffer of the chain");
          const Region& rg = s->regions[static_cast<uint32_t>(a)];
          size_t offset = static_cast<size_t>(b);
          if (offset > rg.length)
            throw DescError("a pointer argument is outside its buffer");
          size_t need = type == 'S' ? 128 : type == 'X' ? 256 : 0;
          if (rg.length - offset < need)
            throw DescError("a stat buffer is too small");
          *slot = reinterpret_cast<int64_t>(rg.bounce + offset);
          atom->arg_ptr[j] = reinterpret_cast<uint64_t>(slot);
          last_buffer = &rg;
          last_offset = offset;
          continue;
        }
        if (type == 'c') {
          // The byte count of the buffer before it: a plain value within it.
          if (kind != kNumber || !last_buffer || !(a >= 0) ||
              a > static_cast<double>(last_buffer->length - last_offset) ||
              a != static_cast<double>(static_cast<int64_t>(a)))
            throw DescError("a byte count must be a number within its buffer");
          *slot = static_cast<int64_t>(a);
          atom->arg_ptr[j] = reinterpret_cast<uint64_t>(slot);
          continue;
        }
        // An integer: absent (0), a value, or an earlier atom's result.
        switch (kind) {
          case kAbsent:
            atom->arg_ptr[j] = 0;
            break;
          case kNumber:
            if (!(a >= -9007199254740991.0 && a <= 9007199254740991.0) ||
                a != static_cast<double>(static_cast<int64_t>(a)))
              throw DescError("an integer argument is not a safe integer");
            *slot = static_cast<int64_t>(a);
            atom->arg_ptr[j] = reinterpret_cast<uint64_t>(slot);
            s->patchable[i * 6 + j] = true;
            break;
          case kBigInt: {
            // a: the high 32 bits (signed), b: the low 32 bits.
            if (!(a >= -2147483648.0 && a <= 2147483647.0) || !(b >= 0 && b <= 4294967295.0) ||
                a != static_cast<double>(static_cast<int64_t>(a)) || b != static_cast<double>(static_cast<int64_t>(b)))
              throw DescError("a 64-bit argument is malformed");
            uint64_t v = (static_cast<uint64_t>(static_cast<int64_t>(a)) << 32) | static_cast<uint64_t>(b);
            *slot = static_cast<int64_t>(v);
            atom->arg_ptr[j] = reinterpret_cast<uint64_t>(slot);
            break;
          }
          case kResult:
            if (!(a >= 0 && a < s->natoms) || a != static_cast<double>(static_cast<int64_t>(a)))
              throw DescError("a result reference is not an atom of the chain");
            atom->arg_ptr[j] = reinterpret_cast<uint64_t>(&s->results[static_cast<uint32_t>(a)]);
            break;
          default:
            throw DescError("a pointer where the system call takes an integer");
        }
      }
    }

    s->copy_outs.resize(ncopy);
    for (uint32_t i = 0; i < ncopy; i++) {
      CopyOut& co = s->copy_outs[i];
      co.atom = static_cast<uint32_t>(integer(0, s->natoms - 1.0));
      co.region = static_cast<uint32_t>(integer(0, nregions - 1.0));
      co.offset = static_cast<size_t>(integer(0, static_cast<double>(kMaxArena)));
      co.length = static_cast<size_t>(integer(0, static_cast<double>(kMaxArena)));
      co.mode = static_cast<int>(integer(1, 2));
      Region& rg = s->regions[co.region];
      if (co.offset > rg.length || co.length > rg.length - co.offset)
        throw DescError("a copy out is outside its buffer");
      rg.copy_out = true;
    }
    return s;
  } catch (...) {
    FreeSubmission(nullptr, s);
    throw;
  }
}

// The chain ran: its results go to the chain's BigInt64Array, its reads to
// their buffers.  Returns 0, or 1 + the atom whose buffer was detached (or
// shrunk) meanwhile: that copy is skipped, the others are made.
// @view(i) gives the JavaScript value of refs[i] (or of the kept reference).
// @region_data, when given, holds each copied-out region's view memory,
// looked up and checked (at least view_offset + length bytes) since the
// kernel returned, with no JavaScript run in between.
template <typename ViewOf>
int CopyBack(napi_env env, Submission* s, ViewOf view_of, char* const* region_data = nullptr) {
  int status = 0;
  char* data;
  size_t len;
  if (s->js_results) {
    std::memcpy(s->js_results, s->results, s->natoms * sizeof(int64_t));
  } else {
    napi_value results = view_of(s->results_index, s->results_ref);
    if (results && KnownViewMemory(env, results, false, &data, &len) && len >= s->natoms * sizeof(int64_t))
      std::memcpy(data, s->results, s->natoms * sizeof(int64_t));
  }
  for (const CopyOut& co : s->copy_outs) {
    int64_t result = s->results[co.atom];
    size_t bytes = 0;
    if (result == kNotRun)
      continue;
    if (co.mode == 1 && result > 0)
      bytes = static_cast<uint64_t>(result) < co.length ? static_cast<size_t>(result) : co.length;
    else if (co.mode == 2 && result == 0)
      bytes = co.length;
    if (!bytes)
      continue;
    const Region& rg = s->regions[co.region];
    if (region_data) {
      std::memcpy(region_data[co.region] + rg.view_offset + co.offset, rg.bounce + co.offset, bytes);
      continue;
    }
    napi_value view = view_of(rg.ref_index, rg.view);
    if (!view || !KnownViewMemory(env, view, rg.dataview, &data, &len) || rg.view_offset + co.offset > len ||
        bytes > len - rg.view_offset - co.offset) {
      if (!status)
        status = 1 + static_cast<int>(co.atom);
      continue;
    }
    std::memcpy(data + rg.view_offset + co.offset, rg.bounce + co.offset, bytes);
  }
  return status;
}

// The index of the atom async_exec returned (@ret, its address) for an
// inline chain, or -1 if it is not an atom of @s.
int LastAtomIndex(const Submission* s, long ret) {
  uintptr_t last = static_cast<uintptr_t>(ret);
  uintptr_t first = reinterpret_cast<uintptr_t>(s->atoms);
  if (last < first || (last - first) % sizeof(struct lkl_syslet_atom))
    return -1;
  size_t index = (last - first) / sizeof(struct lkl_syslet_atom);
  return index < s->natoms ? static_cast<int>(index) : -1;
}

// Keeps what the copy back needs after the call returns.
void KeepViews(napi_env env, Submission* s, napi_value refs) {
  napi_value v;
  if (napi_get_element(env, refs, s->results_index, &v) == napi_ok)
    napi_create_reference(env, v, 1, &s->results_ref);
  for (Region& rg : s->regions) {
    bool needed = false;
    for (const CopyOut& co : s->copy_outs)
      if (&s->regions[co.region] == &rg)
        needed = true;
    if (needed && napi_get_element(env, refs, rg.ref_index, &v) == napi_ok)
      napi_create_reference(env, v, 1, &rg.view);
  }
}

}  // namespace

void Install() {
  static std::once_flag once;
  std::call_once(once, [] { lkl_set_ring_notify_hook(OnRingNotify, nullptr); });
}

void WakeAllRings() {
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (auto& entry : registry)
    if (entry.second->in_flight_count.load() > 0)
      uv_async_send(&entry.second->async);
}

// ringCreate(entries, drain) -> [handle, arraybuffer]: drain() is called on
// this thread (from its event loop) when completions landed.
Napi::Value RingCreate(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  uint32_t entries = info[0].As<Napi::Number>().Uint32Value();
  if (!entries || entries > LKL_SYSLET_RING_MAX_ENTRIES || (entries & (entries - 1)))
    throw Napi::RangeError::New(env, "ring entries must be a power of two <= 2^20");
  if (!info[1].IsFunction())
    throw Napi::TypeError::New(env, "ring drain must be a function");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop)
    throw Napi::Error::New(env, "no event loop on this thread");

  size_t size = sizeof(struct lkl_syslet_ring) + size_t{entries} * sizeof(struct lkl_syslet_completion);
  size = (size + 63) & ~size_t{63};
  void* mem = std::aligned_alloc(64, size + kScratchBytes);
  if (!mem)
    throw Napi::Error::New(env, "out of memory for the ring");
  std::memset(mem, 0, size + kScratchBytes);
  Ring* r = new Ring();
  r->scratch = reinterpret_cast<double*>(static_cast<char*>(mem) + size);
  r->mem = static_cast<struct lkl_syslet_ring*>(mem);
  r->mem_size = size;
  r->entries = entries;
  r->env = env;
  r->mem->entries = entries;
  r->mem->flags = LKL_SYSLET_RING_NOTIFY;
  r->async.data = r;
  if (uv_async_init(loop, &r->async, OnAsync) != 0) {
    std::free(mem);
    delete r;
    throw Napi::Error::New(env, "uv_async_init failed");
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&r->async));
  r->refs = 1;  // the open uv handle (dropped in OnClosed)
  napi_create_reference(env, info[1], 0, &r->drain);
  napi_value resource_name;
  napi_create_string_utf8(env, "lkl:ring", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, nullptr, resource_name, &r->context);
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    registry[reinterpret_cast<uintptr_t>(mem)] = r;
  }
  napi_add_async_cleanup_hook(env, OnEnvCleanup, r, &r->cleanup);

  napi_value handle, arraybuffer;
  if (napi_create_external(env, r, FinalizeHandle, nullptr, &handle) != napi_ok) {
    Shutdown(r);
    throw Napi::Error::New(env, "cannot create the ring handle");
  }
  r->refs++;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    live_handles[r] = env;
  }
  if (napi_create_external_arraybuffer(env, mem, size + kScratchBytes, FinalizeArrayBuffer, r, &arraybuffer) != napi_ok)
    throw Napi::Error::New(env, "cannot expose the ring's memory (external ArrayBuffers unsupported?)");
  r->refs++;
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Value(env, handle));
  out.Set(1u, Napi::Value(env, arraybuffer));
  return out;
}

// asyncExec(ring, descriptions[], refs[][], out) -> chains submitted.
// out[2i], out[2i+1]: 1 and the last atom's index (ran to the end, results
// and buffers are filled), 0 and 0 (asynchronous: the completion will come
// through the ring), or the negative errno of async_exec and 0.
Napi::Value AsyncExec(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  Ring* r = GetRing(info, 0);
  if (r->closing)
    throw Napi::Error::New(env, "the ring is closed");
  Napi::Array descs = info[1].As<Napi::Array>();
  Napi::Array refsList = info[2].As<Napi::Array>();
  Napi::Float64Array out = info[3].As<Napi::Float64Array>();
  uint32_t n = descs.Length();
  if (refsList.Length() != n || out.ElementLength() < 2 * size_t{n})
    throw Napi::RangeError::New(env, "asyncExec: descriptions, refs and out disagree");

  for (uint32_t c = 0; c < n; c++) {
    Napi::Value dv = descs.Get(c);
    Napi::Value rv = refsList.Get(c);
    if (!dv.IsTypedArray() || dv.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array || !rv.IsArray())
      throw Napi::TypeError::New(env, "asyncExec: a description must be a Float64Array with an array of refs");
    Napi::Float64Array desc = dv.As<Napi::Float64Array>();
    Napi::Array refs = rv.As<Napi::Array>();
    if (refs.Length() == 0)
      throw Napi::TypeError::New(env, "asyncExec: refs must hold the results array");
    Submission* s;
    try {
      s = ParseChain(env, desc.Data(), desc.ElementLength(), refs, refs.Length());
    } catch (const DescError& e) {
      throw Napi::TypeError::New(env, std::string("asyncExec: ") + e.what());
    }
    if (r->in_flight.count(s->id)) {
      FreeSubmission(nullptr, s);
      throw Napi::Error::New(env, "asyncExec: a submission with this id is in flight");
    }
    s->ranges[s->nranges++] = {reinterpret_cast<unsigned long>(r->mem), r->mem_size};
    long args[6] = {reinterpret_cast<long>(s->atoms), reinterpret_cast<long>(r->mem), 0, 0, 0, 0};
    long ret = lkl_syscall_confined(__LKL_NR_async_exec, args, s->ranges, s->nranges);
    double* o = out.Data() + 2 * size_t{c};
    if (ret == 0) {
      KeepViews(env, s, refs);
      InFlightAdd(r, s);
      o[0] = 0;
      o[1] = 0;
      continue;
    }
    if (ret < 0) {
      o[0] = static_cast<double>(ret);
      o[1] = 0;
    } else {
      int index = LastAtomIndex(s, ret);
      if (index < 0) {
        o[0] = -14;  // cannot happen: the kernel returned an atom not ours
        o[1] = 0;
      } else {
        CopyBack(env, s, [&](uint32_t i, napi_ref) -> napi_value {
          napi_value v = nullptr;
          napi_get_element(env, refs, i, &v);
          return v;
        });
        o[0] = 1;
        o[1] = static_cast<double>(index);
      }
    }
    FreeSubmission(env, s);
  }
  return Napi::Number::New(env, n);
}

// --- prepared submissions: laid out once, run many times ---------------

// Tags the externals asyncPrepare returns, so that no other value can pass
// for one.
constexpr napi_type_tag kPreparedTag = {0x6c6b6c2d73797367ULL, 0x7072657061726564ULL};
// asyncSubmit's return value for a chain that went asynchronous (an atom
// index is < LKL_SYSLET_MAX_ATOMS, an error is a negative errno).
constexpr int kQueued = LKL_SYSLET_MAX_ATOMS;
// ... and when a buffer of the chain was detached or shrunk: nothing ran.
constexpr int kBufferGone = LKL_SYSLET_MAX_ATOMS + 1;
static_assert(kQueued >= LKL_SYSLET_MAX_ATOMS, "queued must not be an atom index");

// Prepared chains of this thread by token: asyncSubmit finds a chain from
// a number (two N-API calls fewer than checking an external's type tag).
// A token is index + generation * 2^24, the generation counting the uses
// of the slot, so a stale token never finds the chain now in its slot.
struct PreparedEntry {
  Submission* s = nullptr;
  uint32_t generation = 0;
};
thread_local std::vector<PreparedEntry> prepared_chains;
thread_local std::vector<uint32_t> free_prepared;
constexpr uint64_t kTokenSlots = uint64_t{1} << 24;

double RegisterPrepared(Submission* s) {
  uint32_t index;
  if (!free_prepared.empty()) {
    index = free_prepared.back();
    free_prepared.pop_back();
  } else {
    if (prepared_chains.size() >= kTokenSlots)
      return -1;
    index = static_cast<uint32_t>(prepared_chains.size());
    prepared_chains.emplace_back();
  }
  PreparedEntry& e = prepared_chains[index];
  e.s = s;
  e.generation = (e.generation + 1) & 0x1fffffff;  // the token stays below 2^53
  s->token_index = index;
  return static_cast<double>(index + e.generation * kTokenSlots);
}

Submission* PreparedByToken(double token) {
  if (!(token >= 0 && token < 9007199254740992.0))
    return nullptr;
  uint64_t t = static_cast<uint64_t>(token);
  uint64_t index = t % kTokenSlots;
  if (static_cast<double>(t) != token || index >= prepared_chains.size())
    return nullptr;
  const PreparedEntry& e = prepared_chains[index];
  return e.s && e.generation == t / kTokenSlots ? e.s : nullptr;
}

void FinalizePrepared(napi_env env, void* data, void* /*hint*/) {
  Submission* s = static_cast<Submission*>(data);
  prepared_chains[s->token_index].s = nullptr;
  free_prepared.push_back(s->token_index);
  if (s->in_flight) {
    s->orphaned = true;  // freed when its completion is consumed
    return;
  }
  Ring* r = s->ring;
  FreeSubmission(env, s);
  Unref(r);
}

// The Submission of @value if it is a prepared chain handle (an external
// of ours: checked before its pointer is believed), else nullptr.
Submission* PreparedOf(napi_env env, napi_value value) {
  napi_valuetype type;
  bool tagged = false;
  void* data = nullptr;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, value, &kPreparedTag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &data) != napi_ok)
    return nullptr;
  return static_cast<Submission*>(data);
}

Submission* GetPrepared(napi_env env, napi_value value) {
  Submission* s = PreparedOf(env, value);
  if (!s)
    throw Napi::TypeError::New(env, "not a prepared chain handle");
  if (s->ring->env != env)
    throw Napi::TypeError::New(env, "a prepared chain of another thread");
  return s;
}

// asyncPrepare(ring, description, refs) -> [handle, token]: lays the chain
// out for runs on @ring (asyncSubmit takes the token, asyncPatch the
// handle).  The handle holds the chain's buffers and the ring until it is
// garbage collected; the token is valid as long as the handle.
Napi::Value AsyncPrepare(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  Ring* r = GetRing(info, 0);
  if (r->closing)
    throw Napi::Error::New(env, "the ring is closed");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      !info[2].IsArray() || info[2].As<Napi::Array>().Length() == 0)
    throw Napi::TypeError::New(env, "asyncPrepare: a description must be a Float64Array with an array of refs");
  Napi::Float64Array desc = info[1].As<Napi::Float64Array>();
  Napi::Array refs = info[2].As<Napi::Array>();
  Submission* s;
  try {
    s = ParseChain(env, desc.Data(), desc.ElementLength(), refs, refs.Length());
  } catch (const DescError& e) {
    throw Napi::TypeError::New(env, std::string("asyncPrepare: ") + e.what());
  }
  s->ranges[s->nranges++] = {reinterpret_cast<unsigned long>(r->mem), r->mem_size};
  s->prepared = true;
  s->ring = r;
  r->refs++;
  // Kept until the chain is collected: let the collector know its size.
  int64_t ignored;
  napi_adjust_external_memory(env, static_cast<int64_t>(s->arena_bytes), &ignored);
  napi_value v;
  napi_typedarray_type type;
  size_t length;
  void* base = nullptr;
  if (napi_get_element(env, refs, s->results_index, &v) == napi_ok &&
      napi_get_typedarray_info(env, v, &type, &length, &base, nullptr, nullptr) == napi_ok &&
      type == napi_bigint64_array && length >= s->natoms && base) {
    napi_create_reference(env, v, 1, &s->results_ref);
    s->js_results = static_cast<int64_t*>(base);
  } else {
    FreeSubmission(env, s);
    Unref(r);
    throw Napi::TypeError::New(env, "asyncPrepare: refs[0] must be the chain's BigInt64Array of results");
  }
  for (Region& rg : s->regions)
    if (napi_get_element(env, refs, rg.ref_index, &v) == napi_ok)
      napi_create_reference(env, v, 1, &rg.view);
  double token = RegisterPrepared(s);
  napi_value handle;
  if (token < 0 || napi_create_external(env, s, FinalizePrepared, nullptr, &handle) != napi_ok ||
      napi_type_tag_object(env, handle, &kPreparedTag) != napi_ok) {
    if (token >= 0) {
      prepared_chains[s->token_index].s = nullptr;
      free_prepared.push_back(s->token_index);
    }
    FreeSubmission(env, s);
    Unref(r);
    throw Napi::Error::New(env, "asyncPrepare: cannot create the handle (too many prepared chains?)");
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Value(env, handle));
  out.Set(1u, Napi::Number::New(env, token));
  return out;
}

// Sets argument @arg of atom @atom of a prepared chain to @value: only a
// plain integer slot (never a pointer, a byte count or a result
// reference), only a safe integer.  False if it is not one.
bool PatchSlot(Submission* s, double atom, double arg, double value) {
  if (!(atom >= 0 && atom < s->natoms && atom == static_cast<double>(static_cast<uint32_t>(atom))) ||
      !(arg >= 0 && arg < 6 && arg == static_cast<double>(static_cast<uint32_t>(arg))))
    return false;
  size_t slot = static_cast<size_t>(atom) * 6 + static_cast<size_t>(arg);
  if (!s->patchable[slot] || !(value >= -9007199254740991.0 && value <= 9007199254740991.0) ||
      value != static_cast<double>(static_cast<int64_t>(value)))
    return false;
  int64_t* slots = reinterpret_cast<int64_t*>(s->arena + s->natoms * sizeof(struct lkl_syslet_atom));
  slots[slot] = static_cast<int64_t>(value);
  return true;
}

// asyncPatch(handle, atom, arg, value): a new value for a plain integer
// argument (a position...) of a prepared chain that is not in flight.
Napi::Value AsyncPatch(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  Submission* s = GetPrepared(env, info[0]);
  double atom = info[1].As<Napi::Number>().DoubleValue();
  double arg = info[2].As<Napi::Number>().DoubleValue();
  double value = info[3].As<Napi::Number>().DoubleValue();
  if (s->in_flight)
    throw Napi::Error::New(env, "asyncPatch: the chain is in flight");
  if (!PatchSlot(s, atom, arg, value))
    throw Napi::RangeError::New(env, "asyncPatch: not a safe integer for a plain integer argument of the chain");
  return Napi::Env(env).Undefined();
}

// asyncSubmit(token, id): runs a prepared chain; its outcome goes to the
// ring's scratch (no return value to create): scratch[1] is the last
// atom's index when the chain ran to its end (its results and read
// buffers are filled; scratch[0] is the last result, NaN when not a safe
// integer), kQueued when it went asynchronous (the completion comes
// through the ring with @id), kBufferGone when a view of the chain was
// detached or shrunk (nothing ran), or the negative errno of async_exec.  The path of every k.fs call and cached
// asyncExec, so a raw N-API callback: no parsing, no allocation, a handful
// of N-API calls, a copy in of what the kernel reads and a copy out of what
// it wrote.
napi_value AsyncSubmit(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 5;
  napi_value argv[5];
  Submission* s = nullptr;
  double token = -1, id = 0, patch[3] = {-1, 0, 0};

  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2 ||
      napi_get_value_double(env, argv[0], &token) != napi_ok || !(s = PreparedByToken(token)) ||
      napi_get_value_double(env, argv[1], &id) != napi_ok ||
      (argc >= 5 && (napi_get_value_double(env, argv[2], &patch[0]) != napi_ok ||
                     napi_get_value_double(env, argv[3], &patch[1]) != napi_ok ||
                     napi_get_value_double(env, argv[4], &patch[2]) != napi_ok))) {
    napi_throw_type_error(env, nullptr, "asyncSubmit(prepared chain token, id, patch atom?, arg?, value?)");
    return nullptr;
  }
  Ring* r = s->ring;
  if (r->env != env) {
    napi_throw_type_error(env, nullptr, "a prepared chain of another thread");
    return nullptr;
  }
  if (r->closing || s->in_flight) {
    napi_throw_error(env, nullptr, r->closing ? "the ring is closed" : "asyncSubmit: the chain is in flight");
    return nullptr;
  }
  if (!(id >= 1 && id <= 9007199254740991.0) ||
      (!r->in_flight.empty() && r->in_flight.count(static_cast<uint64_t>(id)))) {
    napi_throw_range_error(env, nullptr, "asyncSubmit: a bad or busy submission id");
    return nullptr;
  }
  if (patch[0] >= 0 && !PatchSlot(s, patch[0], patch[1], patch[2])) {
    napi_throw_range_error(env, nullptr, "asyncSubmit: the patch is not a safe integer for a plain integer argument");
    return nullptr;
  }
  // Every view the chain reads or fills, checked now: a detached one
  // refuses the submission before anything runs.
  char* region_data[kMaxRegions];
  for (uint32_t i = 0; i < s->regions.size(); i++) {
    Region& rg = s->regions[i];
    if (!(rg.copy_in || rg.copy_out) || !rg.length)
      continue;
    napi_value view;
    char* bytes;
    size_t len;
    if (napi_get_reference_value(env, rg.view, &view) != napi_ok || !view ||
        !KnownViewMemory(env, view, rg.dataview, &bytes, &len) || rg.view_offset > len ||
        rg.length > len - rg.view_offset) {
      r->scratch[1] = kBufferGone;
      return nullptr;
    }
    region_data[i] = bytes;
    if (rg.copy_in)
      std::memcpy(rg.bounce, bytes + rg.view_offset, rg.length);
  }
  s->id = static_cast<uint64_t>(id);
  for (uint32_t i = 0; i < s->natoms; i++) {
    s->atoms[i].private_data = s->id;
    s->results[i] = kNotRun;
  }
  long args[6] = {reinterpret_cast<long>(s->atoms), reinterpret_cast<long>(r->mem), 0, 0, 0, 0};
  long ret = lkl_syscall_confined(__LKL_NR_async_exec, args, s->ranges, s->nranges);
  int status;
  if (ret == 0) {
    s->in_flight = true;
    InFlightAdd(r, s);
    status = kQueued;
  } else if (ret < 0) {
    status = static_cast<int>(ret);
  } else if ((status = LastAtomIndex(s, ret)) < 0) {
    status = -14;  // cannot happen: not an atom of ours
  } else {
    CopyBack(env, s, [](uint32_t, napi_ref) -> napi_value { return nullptr; }, region_data);
    int64_t result = s->results[status];
    constexpr int64_t kSafe = (int64_t{1} << 53) - 1;
    r->scratch[0] = result >= -kSafe && result <= kSafe ? static_cast<double>(result) : __builtin_nan("");
  }
  r->scratch[1] = status;
  return nullptr;
}

// ringConsume(ring, count, status) -> n: takes the next n (<= count)
// completions the kernel posted (the ones JavaScript just read), copies
// their results and data back and frees their submissions.  status[i]: 0,
// -1 (no submission of that id in flight: ignored), or 1 + the atom whose
// buffer was detached meanwhile (its data is dropped).  JavaScript stores
// user_tail afterwards.
Napi::Value RingConsume(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  Ring* r = GetRing(info, 0);
  uint32_t count = info[1].As<Napi::Number>().Uint32Value();
  Napi::Int32Array status = info[2].As<Napi::Int32Array>();
  uint32_t head = __atomic_load_n(&r->mem->kernel_head, __ATOMIC_ACQUIRE);
  uint32_t avail = head - r->consumed;
  if (avail > r->entries)
    avail = r->entries;
  if (count > avail)
    count = avail;
  if (count > status.ElementLength())
    count = static_cast<uint32_t>(status.ElementLength());
  auto* entries = reinterpret_cast<struct lkl_syslet_completion*>(r->mem + 1);
  for (uint32_t i = 0; i < count; i++) {
    const struct lkl_syslet_completion& c = entries[(r->consumed + i) & (r->entries - 1)];
    auto it = r->in_flight.find(c.private_data);
    if (it == r->in_flight.end()) {
      status[i] = -1;
      continue;
    }
    Submission* s = it->second;
    r->in_flight.erase(it);
    status[i] = CopyBack(env, s, [&](uint32_t, napi_ref ref) -> napi_value {
      napi_value v = nullptr;
      if (ref)
        napi_get_reference_value(env, ref, &v);
      return v;
    });
    Retire(env, s);
    InFlightRemove(r);
    Unref(r);  // the handle (info[0]) still holds one: r stays
  }
  r->consumed += count;
  return Napi::Number::New(env, count);
}

// ringNotify(ring): async_ring_notify, for a ring whose WAITING flag is set.
Napi::Value RingNotify(const Napi::CallbackInfo& info) {
  Ring* r = GetRing(info, 0);
  struct lkl_user_range range = {reinterpret_cast<unsigned long>(r->mem), r->mem_size};
  long args[6] = {reinterpret_cast<long>(r->mem), 0, 0, 0, 0, 0};
  return Napi::Number::New(info.Env(),
                           static_cast<double>(lkl_syscall_confined(__LKL_NR_async_ring_notify, args, &range, 1)));
}

// ringAbandon(ring) -> n: the kernel is halted or dead and posted all it
// ever will (halt and panic post before they return): free the submissions
// still in flight, whose completions were lost (a full ring).
Napi::Value RingAbandon(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  Ring* r = GetRing(info, 0);
  if (LklKernelState() == kKernelRunning)
    throw Napi::Error::New(env, "ringAbandon: the kernel is running");
  double n = 0;
  for (auto& entry : r->in_flight) {
    Retire(env, entry.second);
    InFlightRemove(r);
    n++;
  }
  size_t count = r->in_flight.size();
  r->in_flight.clear();
  for (size_t i = 0; i < count; i++)
    Unref(r);
  return Napi::Number::New(env, n);
}

// ringClose(ring) -> 0, or -EBUSY while submissions are in flight.
Napi::Value RingClose(const Napi::CallbackInfo& info) {
  Ring* r = GetRing(info, 0);
  if (!r->in_flight.empty())
    return Napi::Number::New(info.Env(), -16);
  Shutdown(r);
  return Napi::Number::New(info.Env(), 0);
}

// ringInfo(ring) -> [event-loop wake-ups, notify hook calls, in flight,
// kernel_head, user_tail, flags].
Napi::Value RingInfo(const Napi::CallbackInfo& info) {
  Ring* r = GetRing(info, 0);
  Napi::Array out = Napi::Array::New(info.Env(), 6);
  out.Set(3u, Napi::Number::New(info.Env(), __atomic_load_n(&r->mem->kernel_head, __ATOMIC_ACQUIRE)));
  out.Set(4u, Napi::Number::New(info.Env(), __atomic_load_n(&r->mem->user_tail, __ATOMIC_ACQUIRE)));
  out.Set(5u, Napi::Number::New(info.Env(), __atomic_load_n(&r->mem->flags, __ATOMIC_ACQUIRE)));
  out.Set(0u, Napi::Number::New(info.Env(), r->wakeups));
  out.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(r->hook_calls.load())));
  out.Set(2u, Napi::Number::New(info.Env(), static_cast<double>(r->in_flight.size())));
  return out;
}

// ringWakeups() -> event-loop wake-ups of every ring of the process.
Napi::Value RingWakeups(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(total_wakeups.load()));
}

}  // namespace lkl_syslets
