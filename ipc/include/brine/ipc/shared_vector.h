// SharedVector<T>: a fixed-size array of arithmetic T allocated directly in a pool's shared
// arena (Pool::shared_vector<T>(n)). A producer writes it once; passing it to tasks (as a
// std::span<const T> parameter) sends only a reference. The block lives while the vector or
// any task or future using it lives. Elements start uninitialized, like make_unique_for_overwrite.
//
// Thread safety: like a std::vector; workers see it read-only.
#pragma once

#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>

#include "brine/ipc/arena.h"

namespace brine {

template <class T>
class SharedVector {
  static_assert(std::is_trivially_copyable_v<T>, "brine::SharedVector holds trivially copyable elements");

 public:
  SharedVector() = default;
  SharedVector(ipc::BlockHandle block, std::size_t n) : block_(std::move(block)), size_(n) {}

  T* data() noexcept { return reinterpret_cast<T*>(block_.data()); }
  const T* data() const noexcept { return reinterpret_cast<const T*>(block_.data()); }
  std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) noexcept { return data()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data()[i]; }
  T* begin() noexcept { return data(); }
  T* end() noexcept { return data() + size_; }
  const T* begin() const noexcept { return data(); }
  const T* end() const noexcept { return data() + size_; }
  std::span<T> span() noexcept { return {data(), size_}; }
  operator std::span<const T>() const noexcept { return {data(), size_}; }

 private:
  ipc::BlockHandle block_;
  std::size_t size_ = 0;
};

}  // namespace brine
