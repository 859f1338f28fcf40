// Runs the mykernels operators from C++, without Python:
//
//   run_package LIBRARY PACKAGE DEVICE DIR
//
// LIBRARY is the op library (python -c "import mykernels; print(mykernels.library_path())"),
// PACKAGE an AOTInductor package (.pt2) of a program that calls the operators, made by
// export_package.py, DEVICE "cpu" or "cuda:0", and DIR the folder with the program's inputs
// (x.bin, y.bin: float32 of shapes [64, 37] and [37]). The program writes into DIR the package's
// result (package.bin) and that of torch.ops.mykernels.add(x, y, alpha=0.5) called through the
// dispatcher (add.bin), as float32.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <dlfcn.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

at::Tensor read(const std::string& path, at::IntArrayRef sizes) {
  at::Tensor t = at::empty(sizes, at::kFloat);
  std::ifstream file(path, std::ios::binary);
  file.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  if (!file) {
    throw std::runtime_error("cannot read " + path);
  }
  return t;
}

void write(const std::string& path, const at::Tensor& t) {
  const at::Tensor cpu = t.to(at::kCPU, at::kFloat).contiguous();
  std::ofstream file(path, std::ios::binary);
  file.write(static_cast<const char*>(cpu.data_ptr()), static_cast<std::streamsize>(cpu.nbytes()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: run_package LIBRARY PACKAGE DEVICE DIR\n";
    return 2;
  }
  const std::string library = argv[1], package = argv[2], dir = argv[4];
  const c10::Device device(argv[3]);

  // Loading the op library registers torch.ops.mykernels.* (schemas, CPU and CUDA kernels) with
  // the dispatcher of this process, where the package finds them.
  if (dlopen(library.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    std::cerr << "cannot load the op library: " << dlerror() << "\n";
    return 1;
  }
  const at::Tensor x = read(dir + "/x.bin", {64, 37}).to(device);
  const at::Tensor y = read(dir + "/y.bin", {37}).to(device);

  // The package: d_sigmoid(add(square(x), y, alpha=0.5)), compiled ahead of time by Inductor.
  torch::inductor::AOTIModelPackageLoader loader(package, "model", false, 1,
                                                 device.is_cuda() ? device.index() : -1);
  const std::vector<at::Tensor> outputs = loader.run({x, y});
  write(dir + "/package.bin", outputs.at(0));

  // An operator called through the dispatcher, by its schema's name, as any torch operator.
  const auto add = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("mykernels::add", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double)>();
  write(dir + "/add.bin", add.call(x, y, 0.5));
  std::cout << "ran " << package << " on " << device << "\n";
  return 0;
}
