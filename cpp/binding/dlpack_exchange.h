// The part of DLPack (https://dmlc.github.io/dlpack/latest/) the eager fast path uses: the tensor
// description and the C exchange API that torch.Tensor publishes as the PyCapsule
// torch.Tensor.__dlpack_c_exchange_api__ (DLPack 1.3, torch 2.10 and later). Declared here from
// the specification because torch installs its copy of dlpack.h only for its unstable C++ API. The
// layouts are DLPack's ABI: mykernels uses the table only when its major version is 1.
#pragma once

#include <cstdint>

namespace mykernels::dlpack {

enum DeviceType : std::int32_t { kCPU = 1, kCUDA = 2 };
enum TypeCode : std::uint8_t { kInt = 0, kUInt = 1, kFloat = 2, kBfloat = 4 };

struct Version {
  std::uint32_t major;
  std::uint32_t minor;
};

struct Device {
  std::int32_t device_type;
  std::int32_t device_id;
};

struct DataType {
  std::uint8_t code;
  std::uint8_t bits;
  std::uint16_t lanes;
};

struct Tensor {
  void* data;
  Device device;
  std::int32_t ndim;
  DataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;  // in elements; NULL means compact row-major
  std::uint64_t byte_offset;
};

struct ManagedTensorVersioned {
  Version version;
  void* manager_ctx;
  void (*deleter)(ManagedTensorVersioned* self);
  std::uint64_t flags;
  Tensor dl_tensor;
};

inline constexpr std::uint32_t kMajorVersion = 1;
inline constexpr const char* kExchangeApiCapsule = "dlpack_exchange_api";

struct ExchangeApiHeader {
  Version version;
  ExchangeApiHeader* prev_api;
};

// Every function returns 0 on success and -1 with a Python exception set; all need the GIL.
struct ExchangeApi {
  ExchangeApiHeader header;
  int (*managed_tensor_allocator)(Tensor* prototype, ManagedTensorVersioned** out, void* error_ctx,
                                  void (*set_error)(void* error_ctx, const char* kind,
                                                    const char* message));
  int (*managed_tensor_from_py_object_no_sync)(void* py_object, ManagedTensorVersioned** out);
  // Takes ownership of `tensor`.
  int (*managed_tensor_to_py_object_no_sync)(ManagedTensorVersioned* tensor, void** out_py_object);
  // A non-owning view, valid while py_object is; may be NULL.
  int (*dltensor_from_py_object_no_sync)(void* py_object, Tensor* out);
  int (*current_work_stream)(std::int32_t device_type, std::int32_t device_id, void** out_stream);
};

}  // namespace mykernels::dlpack
