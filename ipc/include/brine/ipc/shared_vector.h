// SharedVector<T>: a fixed-size array of trivially copyable T that lives in a pool's shared
// arena, so sending it — as an argument or as a result — copies nothing.
//
//  - In the parent, Pool::shared_vector<T>(n) allocates one; fill it, then pass it (to a
//    std::span<const T> or SharedVector<T> parameter) to any number of tasks: only a reference
//    travels. The block lives while the vector, a task using it, or a future holding it lives.
//  - In a worker, brine::this_worker::shared_vector<T>(n) allocates one for the task's result:
//    the worker writes the data once, into shared memory, and the parent's Future gets a
//    SharedVector viewing those same bytes.
//
// Elements start uninitialized, like make_unique_for_overwrite. Copies of a SharedVector share
// the same storage (it is a handle, like std::shared_ptr).
//
// Thread safety: like a std::vector; a worker must treat an argument's data as read-only.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "brine/core/reducer.h"

namespace brine {

template <class T>
class SharedVector {
  static_assert(std::is_trivially_copyable_v<T>, "brine::SharedVector holds trivially copyable elements");

 public:
  SharedVector() = default;
  // A view of `n` elements at `data`, kept alive by `owner` (nullptr: owned elsewhere, e.g.
  // by the task a worker is running).
  SharedVector(std::shared_ptr<const void> owner, T* data, std::size_t n)
      : owner_(std::move(owner)), data_(data), size_(n) {}

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }
  std::span<T> span() noexcept { return {data_, size_}; }
  operator std::span<const T>() const noexcept { return {data_, size_}; }

 private:
  std::shared_ptr<const void> owner_;
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace this_worker {
// Bytes of the pool's shared arena for the task this worker is running; they belong to the
// task (and then to its result). Throws brine::ArenaExhausted if the parent cannot grant them,
// brine::Error if called outside a worker.
std::span<std::byte> allocate(std::size_t bytes);

template <class T>
SharedVector<T> shared_vector(std::size_t n) {
  std::span<std::byte> bytes = allocate(n * sizeof(T));
  return SharedVector<T>(nullptr, reinterpret_cast<T*>(bytes.data()), n);
}
}  // namespace this_worker

// Always travels by reference (it already lives in the arena): a vector of T on the wire.
template <class T>
struct Reducer<SharedVector<T>> : detail::SequenceOf<T> {
  static std::string name() { return "array<" + type_signature<T>() + ">"; }
  static flatbuffers::uoffset_t write(Encoder& e, const SharedVector<T>& v) {
    return e.contiguous(v.data(), v.size(), sizeof(T), alignof(T), Placement::kReference);
  }
  static SharedVector<T> read(const Decoder& d, const uint8_t* p) {
    if (p == nullptr) return SharedVector<T>(nullptr, nullptr, 0);
    const auto bytes = d.contiguous(p, sizeof(T), alignof(T));
    return SharedVector<T>(d.pin(p), reinterpret_cast<T*>(const_cast<std::byte*>(bytes.data())), bytes.size() / sizeof(T));
  }
};

// The element type of a parameter that reads contiguous data (std::span<const T>,
// std::vector<T>, SharedVector<T>); void for any other type.
template <class P>
struct ContiguousElement {
  using type = void;
};
template <class T>
struct ContiguousElement<std::span<const T>> {
  using type = T;
};
template <class T>
struct ContiguousElement<std::vector<T>> {
  using type = T;
};
template <class T>
struct ContiguousElement<SharedVector<T>> {
  using type = T;
};

}  // namespace brine
