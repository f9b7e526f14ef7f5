// Native C++ tasks for Python: register a function once, call it from Python with
// pool.submit_native("name", args...). numpy arrays reach it as std::span<const T> (zero-copy
// when the array is a brine.shared_array, else one copy into the shared arena) and its result
// comes back as a Python object.
//
//   // total.cc, built as a shared library against brine's headers only (brine_add_native()
//   // in CMake), loaded in Python with brine.load_native("libtotal.so") before the pool starts:
//   #include <brine/python/native.h>
//   double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
//   BRINE_PYTHON_NATIVE(total);
//
//   >>> pool.submit_native("total", numpy.ones(1 << 20)).result()
//   1048576.0
//
// Parameters may be bool, integers, floating point, std::string, std::span<const T>,
// std::vector<T> or brine::SharedVector<T> of arithmetic T. Results may be void, those
// scalars, std::string, std::vector<T> (a numpy array, copied once) or brine::SharedVector<T>
// (a numpy view of shared memory: build it with brine::this_worker::shared_vector<T>(n)).
//
// The library resolves brine's symbols against the brine Python module, which brine loads
// with RTLD_GLOBAL; it must not link brine's static libraries itself (two registries).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "brine/brine.h"

namespace brine::python {

// A contiguous array crossing between Python and a native task: its elements' kind ('b' bool,
// 'i' signed, 'u' unsigned, 'f' floating, as numpy's dtype.kind) and size, kept alive by `owner`.
struct ArrayValue {
  std::shared_ptr<const void> owner;
  const void* data = nullptr;
  std::size_t count = 0;
  char kind = 'f';
  std::size_t itemsize = 8;
};

using Value = std::variant<std::monostate, bool, int64_t, double, std::string, ArrayValue>;

// Completes a native task: the value, or an error's class name ("brine::WorkerCrashed") and message.
using Deliver = std::function<void(Value value, std::string error_kind, std::string error_message)>;
// What the Python side keeps of a submitted native task.
struct TaskHandle {
  std::function<bool()> cancel;                            // Future::cancel
  std::function<bool(std::chrono::nanoseconds)> wait_for;  // Future::wait_for (collects on this thread)
};
// Submits one call to `pool`. Throws std::invalid_argument for arguments that do not match the
// parameters.
using Submitter = TaskHandle (*)(Pool& pool, std::span<const Value> args, Deliver deliver);

// Defined by the brine Python module.
void register_native(const char* name, Submitter submitter);

namespace detail {

template <class T>
constexpr char kind_of() {
  if constexpr (std::is_same_v<T, bool>) return 'b';
  else if constexpr (std::is_floating_point_v<T>) return 'f';
  else if constexpr (std::is_signed_v<T>) return 'i';
  else return 'u';
}

template <class T>
using Element = ContiguousElement<T>;

[[noreturn]] inline void mismatch(std::size_t i, const std::string& want) {
  throw std::invalid_argument("brine: argument " + std::to_string(i) + " of this native function must be " + want);
}

// One Python-side value as parameter type P.
template <class P>
P convert(const Value& v, std::size_t i) {
  if constexpr (std::is_same_v<P, bool>) {
    if (const bool* b = std::get_if<bool>(&v)) return *b;
    mismatch(i, "a bool");
  } else if constexpr (std::is_arithmetic_v<P>) {
    if (const int64_t* n = std::get_if<int64_t>(&v)) return static_cast<P>(*n);
    if constexpr (std::is_floating_point_v<P>) {
      if (const double* d = std::get_if<double>(&v)) return static_cast<P>(*d);
    }
    mismatch(i, std::is_floating_point_v<P> ? "a number" : "an int");
  } else if constexpr (std::is_same_v<P, std::string>) {
    if (const std::string* s = std::get_if<std::string>(&v)) return *s;
    mismatch(i, "a str");
  } else {
    using T = typename Element<P>::type;
    static_assert(std::is_arithmetic_v<T>, "brine: a native task's parameters must be scalars, std::string, or "
                                           "std::span/std::vector/brine::SharedVector of arithmetic elements");
    const ArrayValue* a = std::get_if<ArrayValue>(&v);
    if (a == nullptr || a->kind != kind_of<T>() || a->itemsize != sizeof(T)) {
      mismatch(i, std::string("a contiguous numpy array of ") + kind_of<T>() + std::to_string(8 * sizeof(T)) +
                      " elements (dtype kind " + kind_of<T>() + ", itemsize " + std::to_string(sizeof(T)) + ")");
    }
    const T* data = static_cast<const T*>(a->data);
    if constexpr (std::is_same_v<P, std::span<const T>>) {
      return std::span<const T>(data, a->count);
    } else if constexpr (std::is_same_v<P, SharedVector<T>>) {
      return SharedVector<T>(nullptr, const_cast<T*>(data), a->count);
    } else {
      return std::vector<T>(data, data + a->count);
    }
  }
}

template <class R>
Value to_value(R&& r) {
  using D = std::decay_t<R>;
  if constexpr (std::is_same_v<D, bool>) {
    return Value(r);
  } else if constexpr (std::is_floating_point_v<D>) {
    return Value(static_cast<double>(r));
  } else if constexpr (std::is_arithmetic_v<D>) {
    return Value(static_cast<int64_t>(r));
  } else if constexpr (std::is_same_v<D, std::string>) {
    return Value(std::move(r));
  } else {
    using T = typename Element<D>::type;
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<D, std::span<const T>>,
                  "brine: a native task's result must be void, a scalar, std::string, std::vector<T> or "
                  "brine::SharedVector<T> of arithmetic T");
    auto owner = std::make_shared<D>(std::move(r));
    return Value(ArrayValue{owner, owner->data(), owner->size(), kind_of<T>(), sizeof(T)});
  }
}

template <auto Fn, class... P, std::size_t... I>
TaskHandle submit_with_params(Pool& pool, std::span<const Value> args, Deliver deliver,
                                         std::index_sequence<I...>) {
  using R = std::invoke_result_t<decltype(Fn), P...>;
  if (args.size() != sizeof...(P)) {
    throw std::invalid_argument("brine: this native function takes " + std::to_string(sizeof...(P)) + " arguments, " +
                                std::to_string(args.size()) + " given");
  }
  auto future = pool.submit(Fn, convert<std::decay_t<P>>(args[I], I)...);
  future.add_done_callback([future, deliver = std::move(deliver)]() mutable {
    Value value;
    try {
      if constexpr (std::is_void_v<R>) {
        future.get();
      } else {
        value = to_value(future.get());
      }
    } catch (const Error& e) {
      deliver(Value{}, e.name(), e.what());
      return;
    } catch (const std::exception& e) {
      deliver(Value{}, "std::exception", e.what());
      return;
    }
    deliver(std::move(value), std::string(), std::string());
  });
  return TaskHandle{[future]() mutable { return future.cancel(); },
                    [future](std::chrono::nanoseconds timeout) { return future.wait_for(timeout); }};
}

template <auto Fn, class R, class... P>
TaskHandle submit_native(R (*)(P...), Pool& pool, std::span<const Value> args, Deliver deliver) {
  return submit_with_params<Fn, P...>(pool, args, std::move(deliver), std::index_sequence_for<P...>());
}

template <auto Fn>
TaskHandle submitter(Pool& pool, std::span<const Value> args, Deliver deliver) {
  return submit_native<Fn>(Fn, pool, args, std::move(deliver));
}

struct NativeRegistration {
  NativeRegistration(const char* name, Submitter s) { register_native(name, s); }
};

}  // namespace detail
}  // namespace brine::python

// Registers `fn` with brine (BRINE_REGISTER) and makes it callable from Python by its name.
#define BRINE_PYTHON_NATIVE(fn)                                                                        \
  BRINE_REGISTER(fn);                                                                                  \
  static const ::brine::python::detail::NativeRegistration BRINE_DETAIL_CAT(brine_python_native_, __COUNTER__) { \
    #fn, &::brine::python::detail::submitter<&fn>                                                      \
  }
