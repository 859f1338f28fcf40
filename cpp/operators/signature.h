// What the binding reads from an op's schema (cpp/core/ops.h), at compile time: the names of its
// tensor arguments, for error messages, and the number of its float arguments, which the eager
// fast path takes in schema order. Reading them also checks the table's entry: its name and its
// kArity must agree with the schema, and its size must be one double per float argument, or the
// build stops. (The members' order, which must be the schema's, is not checked.)
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>

namespace mykernels {
namespace detail {

constexpr std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
  while (!s.empty() && s.back() == ' ') {
    s.remove_suffix(1);
  }
  return s;
}

// The `index`-th comma-separated argument of `schema` ("add(Tensor a, *, float alpha=1) -> ..."),
// the keyword-only marker "*" skipped; empty past the last.
constexpr std::string_view argument(std::string_view schema, int index) {
  std::string_view rest = schema.substr(schema.find('(') + 1);
  rest = rest.substr(0, rest.find(')'));
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view arg = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (arg != "*" && index-- == 0) {
      return arg;
    }
  }
  return {};
}

constexpr std::string_view type_of(std::string_view arg) { return arg.substr(0, arg.find(' ')); }

constexpr std::string_view name_of(std::string_view arg) {
  const std::string_view rest = arg.substr(arg.find(' ') + 1);
  return trim(rest.substr(0, rest.find('=')));
}

// The number of arguments of `schema` that have type `type`.
constexpr int count(std::string_view schema, std::string_view type) {
  int n = 0;
  for (int i = 0; !argument(schema, i).empty(); ++i) {
    n += type_of(argument(schema, i)) == type ? 1 : 0;
  }
  return n;
}

// True when the arguments are tensors first, then floats, and nothing else.
constexpr bool tensors_then_floats(std::string_view schema) {
  bool floats = false;
  for (int i = 0; !argument(schema, i).empty(); ++i) {
    const std::string_view type = type_of(argument(schema, i));
    if (type == "float") {
      floats = true;
    } else if (type != "Tensor" || floats) {
      return false;
    }
  }
  return true;
}

}  // namespace detail

template <class Op>
struct Signature {
  static constexpr std::string_view kSchema = Op::kSchema;
  // Tensor inputs, then scalars (float in the schema, double in C++).
  static constexpr int kScalars = detail::count(kSchema, "float");

  static_assert(kSchema.starts_with(Op::kName) &&
                    kSchema[std::string_view(Op::kName).size()] == '(',
                "an op's schema must start with its kName and '('");
  static_assert(kSchema.ends_with("-> Tensor"), "an op returns one Tensor");
  static_assert(detail::tensors_then_floats(kSchema),
                "an op's arguments are Tensors, then floats (the binding supports these two)");
  static_assert(Op::kArity >= 1, "an op takes at least one tensor");
  static_assert(detail::count(kSchema, "Tensor") == Op::kArity,
                "an op's kArity must be the number of Tensor arguments in its schema");
  static_assert(std::is_aggregate_v<Op> &&
                    sizeof(Op) == (kScalars == 0 ? 1 : kScalars * sizeof(double)),
                "an op's members must be one double per float argument of its schema");

  // The tensor arguments' names, as in the schema.
  static constexpr std::array<std::string_view, Op::kArity> kNames = [] {
    std::array<std::string_view, Op::kArity> names{};
    for (int i = 0; i < Op::kArity; ++i) {
      names[i] = detail::name_of(detail::argument(kSchema, i));
    }
    return names;
  }();
};

}  // namespace mykernels
