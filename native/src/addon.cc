// N-API surface of the native LSTM kernels. The host owns the memory (an ArrayBuffer) and passes byte
// offsets, exactly as to the WebAssembly kernels; every region a call would touch is checked against
// the buffer first, so a wrong offset is a JavaScript exception, never a stray write.
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace {

using vigil::KernelTable;

struct Isa {
  const char* name;
  const KernelTable* table;
  bool (*supported)();
};

bool always() { return true; }
#if defined(__x86_64__) || defined(_M_X64)
// GCC's checks include the operating system's support for the wider registers (XCR0).
bool hasAvx512() { return __builtin_cpu_supports("avx512f"); }
bool hasAvx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif

// Best first.
const Isa kIsas[] = {
#if defined(__x86_64__) || defined(_M_X64)
    {"avx512", &vigil::kAvx512Kernels, hasAvx512},
    {"avx2", &vigil::kAvx2Kernels, hasAvx2},
#endif
#if defined(__aarch64__)
    {"neon", &vigil::kNeonKernels, always},
#endif
    {"scalar", &vigil::kScalarKernels, always},
};

enum Kernel { kForward, kBackward, kInfer, kGemm, kTranspose };
const char* const kKernelNames[] = {"forward", "backward", "infer", "gemm", "transpose"};
const int kArgCounts[] = {13, 24, 12, 10, 5};

struct Instance {
  vigil::Pool pool;
};

napi_value throwError(napi_env env, const std::string& message) {
  napi_throw_error(env, "VGL_NATIVE_KERNEL", message.c_str());
  return nullptr;
}

// The byte range of `floats` f32 values at `offset` must lie inside the buffer.
struct Bounds {
  double byteLength;
  std::string problem;
  void need(const char* what, double offset, double floats) {
    if (!problem.empty()) return;
    if (std::fmod(offset, 4.0) != 0.0) problem = std::string(what) + " is not 4-byte aligned";
    else if (offset + floats * 4.0 > byteLength) problem = std::string(what) + " reaches past the end of kernel memory";
  }
};

std::string check(Kernel kernel, const double* a, double byteLength) {
  for (int i = 0; i < kArgCounts[kernel]; ++i)
    if (!(a[i] >= 0 && a[i] <= 4294967295.0 && a[i] == std::floor(a[i])))
      return std::string("argument ") + std::to_string(i) + " of " + kKernelNames[kernel] + " is not an unsigned 32-bit integer";
  Bounds b{byteLength, ""};
  switch (kernel) {
    case kForward:
    case kInfer: {
      const double batch = a[0], steps = a[1], f = a[2], u = a[3], rows = batch * steps;
      if (u == 0 || std::fmod(u, 4.0) != 0.0) return "units must be a positive multiple of 4";
      b.need("x", a[4], rows * f);
      b.need("kernel", a[5], f * 4 * u);
      b.need("recurrent kernel", a[6], u * 4 * u);
      b.need("bias", a[7], 4 * u);
      b.need("gates", a[8], rows * 4 * u);
      if (kernel == kForward) {
        b.need("cell", a[9], rows * u);
        b.need("tanh(cell)", a[10], rows * u);
        b.need("h", a[11], rows * u);
      } else {
        b.need("cell state", a[9], batch * u);
        b.need("h", a[10], rows * u);
      }
      break;
    }
    case kBackward: {
      const double batch = a[0], steps = a[1], f = a[2], fp = a[3], u = a[4], rows = batch * steps;
      if (u == 0 || std::fmod(u, 4.0) != 0.0) return "units must be a positive multiple of 4";
      if (fp < f) return "padded features below features";
      b.need("x", a[5], rows * f);
      b.need("kernelᵀ", a[6], 4 * u * fp);
      b.need("recurrent kernelᵀ", a[7], 4 * u * u);
      b.need("gates", a[8], rows * 4 * u);
      b.need("cell", a[9], rows * u);
      b.need("tanh(cell)", a[10], rows * u);
      b.need("h", a[11], rows * u);
      b.need("dy", a[12], a[13] != 0 ? rows * u : batch * u);
      b.need("dz", a[14], rows * 4 * u);
      b.need("dh", a[15], batch * u);
      b.need("dc", a[16], batch * u);
      b.need("dx", a[19], rows * fp);
      b.need("dkernel", a[20], f * 4 * u);
      b.need("drecurrent", a[21], u * 4 * u);
      b.need("dbias", a[22], 4 * u);
      break;
    }
    case kGemm: {
      const double m = a[0], n = a[1], k = a[2];
      if (m > 0 && k > 0) b.need("A", a[3], (m - 1) * a[4] + k);
      if (k > 0 && n > 0) b.need("B", a[5], (k - 1) * a[6] + n);
      if (m > 0 && n > 0) b.need("C", a[7], (m - 1) * a[8] + n);
      break;
    }
    case kTranspose: {
      const double rows = a[0], cols = a[1];
      if (rows > 0 && cols > 0) b.need("source", a[2], (rows - 1) * a[3] + cols);
      b.need("destination", a[4], rows * cols);
      break;
    }
  }
  return b.problem;
}

void invoke(const KernelTable& t, Kernel kernel, char* base, const double* a) {
  auto i = [&](int k) { return static_cast<int>(a[k]); };
  auto p = [&](int k) { return reinterpret_cast<float*>(base + static_cast<size_t>(a[k])); };
  switch (kernel) {
    case kForward:
      t.forward(i(0), i(1), i(2), i(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11), i(12));
      break;
    case kInfer:
      t.infer(i(0), i(1), i(2), i(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10), i(11));
      break;
    case kBackward:
      // Arguments 17 and 18 (transposed copies of x and h) are the WebAssembly kernels' scratch; these read in place.
      t.backward(i(0), i(1), i(2), i(3), i(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11), p(12), i(13), p(14), p(15),
                 p(16), p(19), p(20), p(21), p(22), i(23), 0);
      break;
    case kGemm:
      t.gemm(i(0), i(1), i(2), p(3), static_cast<long>(a[4]), p(5), static_cast<long>(a[6]), p(7), static_cast<long>(a[8]),
             i(9));
      break;
    case kTranspose:
      t.transpose(i(0), i(1), p(2), static_cast<long>(a[3]), p(4));
      break;
  }
}

// One whole-batch call shared among the threads in slices of sequences taken from a counter, so a thread
// that starts late (the core busy with the garbage collector, ingest or HTTP) leaves its slices to the others
// instead of holding up the call. The slices depend on the batch alone, and backward's weight gradients are
// summed per slice, then added in slice order: the same batch gives the same bits whichever thread took
// which slice, and on any number of threads, so a seeded training run repeats exactly.
constexpr int kMinSequencesPerThread = 16;

// About twelve slices (several per thread, so an uneven split costs little), in whole register tiles (6 rows
// covers every instruction set's tile height).
int sliceSize(int batch) { return std::max(6, (batch + 71) / 72 * 6); }

void splitBatch(vigil::Pool& pool, int maxThreads, const KernelTable& t, Kernel kernel, char* base, const double* a) {
  const int batch = static_cast<int>(a[0]);
  const int steps = static_cast<int>(a[1]);
  const int slice = sliceSize(batch);
  const int slices = std::max(1, (batch + slice - 1) / slice);
  const int threads = std::max(1, std::min({maxThreads, slices, batch / kMinSequencesPerThread}));
  std::atomic<int> next{0};
  auto p = [&](int k) { return reinterpret_cast<float*>(base + static_cast<size_t>(a[k])); };
  if (kernel != kBackward) {
    const int f = static_cast<int>(a[2]), u = static_cast<int>(a[3]);
    pool.run(threads, [&](int) {
      for (int b0; (b0 = next.fetch_add(1) * slice) < batch;) {
        const int n = std::min(slice, batch - b0);
        const long rows = static_cast<long>(b0) * steps;
        if (kernel == kForward)
          t.forward(n, steps, f, u, p(4) + rows * f, p(5), p(6), p(7), p(8) + rows * 4 * u, p(9) + rows * u,
                    p(10) + rows * u, p(11) + rows * u, static_cast<int>(a[12]));
        else
          t.infer(n, steps, f, u, p(4) + rows * f, p(5), p(6), p(7), p(8) + rows * 4 * u, p(9) + static_cast<long>(b0) * u,
                  p(10) + rows * u, static_cast<int>(a[11]));
      }
    });
    return;
  }
  const int f = static_cast<int>(a[2]), fp = static_cast<int>(a[3]), u = static_cast<int>(a[4]);
  const bool sequence = a[13] != 0;
  const size_t dwSize = static_cast<size_t>(f) * 4 * u, drSize = static_cast<size_t>(u) * 4 * u, dbSize = 4 * u;
  // Slice 0 writes the outputs themselves; the others buffers of their own, added below in order.
  std::vector<float> sums(static_cast<size_t>(slices - 1) * (dwSize + drSize + dbSize));
  pool.run(threads, [&](int) {
    for (int s; (s = next.fetch_add(1)) < slices;) {
      const int b0 = s * slice;
      const int n = std::min(slice, batch - b0);
      const long rows = static_cast<long>(b0) * steps;
      const long seqs = b0;
      float* dw = s == 0 ? p(20) : sums.data() + static_cast<size_t>(s - 1) * (dwSize + drSize + dbSize);
      float* dr = s == 0 ? p(21) : dw + dwSize;
      float* db = s == 0 ? p(22) : dr + drSize;
      t.backward(n, steps, f, fp, u, p(5) + rows * f, p(6), p(7), p(8) + rows * 4 * u, p(9) + rows * u, p(10) + rows * u,
                 p(11) + rows * u, p(12) + (sequence ? rows : seqs) * u, sequence, p(14) + rows * 4 * u, p(15) + seqs * u,
                 p(16) + seqs * u, p(19) + rows * fp, dw, dr, db, static_cast<int>(a[23]), 0);
    }
  });
  float* dw = p(20);
  float* dr = p(21);
  float* db = p(22);
  for (int s = 1; s < slices; ++s) {
    const float* from = sums.data() + static_cast<size_t>(s - 1) * (dwSize + drSize + dbSize);
    for (size_t i = 0; i < dwSize; ++i) dw[i] += from[i];
    for (size_t i = 0; i < drSize; ++i) dr[i] += from[dwSize + i];
    for (size_t i = 0; i < dbSize; ++i) db[i] += from[dwSize + drSize + i];
  }
}

const Isa* findIsa(const std::string& name) {
  for (const Isa& isa : kIsas)
    if (name == isa.name && isa.supported()) return &isa;
  return nullptr;
}

std::string stringArg(napi_env env, napi_value v) {
  char buf[32];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, sizeof buf, &len) != napi_ok) return "";
  return std::string(buf, len);
}

// instructionSets(): the sets this build has and this CPU runs, best first.
napi_value InstructionSets(napi_env env, napi_callback_info) {
  napi_value list;
  napi_create_array(env, &list);
  uint32_t n = 0;
  for (const Isa& isa : kIsas) {
    if (!isa.supported()) continue;
    napi_value s;
    napi_create_string_utf8(env, isa.name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, list, n++, s);
  }
  return list;
}

// setThreads(n): the calling thread plus n − 1 workers (created once, kept).
napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t threads = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &threads) != napi_ok || threads < 1 || threads > 64)
    return throwError(env, "setThreads(n) needs 1 ≤ n ≤ 64");
  Instance* inst = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void**>(&inst));
  inst->pool.ensure(threads - 1);
  return nullptr;
}

// run(isa, kernel, memory: ArrayBuffer, args: Float64Array, parts, threads): one kernel, `parts` argument lists of
// the kernel's length laid end to end in args, each on its own thread; parts = 0: one whole-batch list of forward,
// infer or backward, which the addon shares among up to `threads` threads itself.
napi_value Run(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 6) return throwError(env, "run(isa, kernel, memory, args, parts, threads) needs 6 arguments");
  const Isa* isa = findIsa(stringArg(env, argv[0]));
  if (!isa) return throwError(env, "instruction set not available on this CPU: " + stringArg(env, argv[0]));
  const std::string kernelName = stringArg(env, argv[1]);
  int kernel = -1;
  for (int k = 0; k < 5; ++k)
    if (kernelName == kKernelNames[k]) kernel = k;
  if (kernel < 0) return throwError(env, "no such kernel: " + kernelName);
  bool isBuffer = false;
  napi_is_arraybuffer(env, argv[2], &isBuffer);
  if (!isBuffer) return throwError(env, "memory must be an ArrayBuffer");
  void* data = nullptr;
  size_t byteLength = 0;
  napi_get_arraybuffer_info(env, argv[2], &data, &byteLength);
  bool isTyped = false;
  napi_is_typedarray(env, argv[3], &isTyped);
  if (!isTyped) return throwError(env, "args must be a Float64Array");
  napi_typedarray_type type;
  size_t length = 0;
  void* argData = nullptr;
  napi_get_typedarray_info(env, argv[3], &type, &length, &argData, nullptr, nullptr);
  if (type != napi_float64_array) return throwError(env, "args must be a Float64Array");
  int32_t parts = 0;
  if (napi_get_value_int32(env, argv[4], &parts) != napi_ok || parts < 0) return throwError(env, "parts must be ≥ 0");
  const bool split = parts == 0;
  if (split && (kernel == kGemm || kernel == kTranspose)) return throwError(env, kernelName + " cannot be split by batch");
  int32_t threads = 1;
  if (napi_get_value_int32(env, argv[5], &threads) != napi_ok || threads < 1) return throwError(env, "threads must be ≥ 1");
  if (split) parts = 1;
  const int per = kArgCounts[kernel];
  if (length != static_cast<size_t>(parts) * per)
    return throwError(env, kernelName + " takes " + std::to_string(per) + " arguments per part");
  Instance* inst = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void**>(&inst));
  if (std::max(parts, threads) - 1 > inst->pool.helpers())
    return throwError(env, std::to_string(std::max(parts, threads)) + " threads asked of a pool of " + std::to_string(inst->pool.helpers() + 1));
  const double* args = static_cast<const double*>(argData);
  // Copied: the job runs on other threads, and the arguments are tiny.
  std::vector<double> copy(args, args + length);
  for (int part = 0; part < parts; ++part) {
    const std::string problem = check(static_cast<Kernel>(kernel), copy.data() + part * per, static_cast<double>(byteLength));
    if (!problem.empty()) return throwError(env, kernelName + " (part " + std::to_string(part) + "): " + problem);
  }
  char* base = static_cast<char*>(data);
  const KernelTable& table = *isa->table;
  if (split)
    splitBatch(inst->pool, threads, table, static_cast<Kernel>(kernel), base, copy.data());
  else
    inst->pool.run(parts, [&](int part) { invoke(table, static_cast<Kernel>(kernel), base, copy.data() + part * per); });
  return nullptr;
}

void Finalize(napi_env, void* data, void*) { delete static_cast<Instance*>(data); }

}  // namespace

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_set_instance_data(env, new Instance(), Finalize, nullptr);
  const napi_property_descriptor props[] = {
      {"instructionSets", nullptr, InstructionSets, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"run", nullptr, Run, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
