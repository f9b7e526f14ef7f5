// brine's error classes: real classes under brine::Error, whose demangled type, name() and
// what() all read like their public names, and which throw_error() rebuilds by code.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <typeinfo>
#include <vector>

#include "brine/core/error.h"

namespace {

using brine::ErrorCode;

struct Expected {
  ErrorCode code;
  const char* name;
  std::function<void()> raise;  // throws that class with the message "brine: it broke"
  std::function<bool()> caught_specifically;  // true if a catch of that class catches it
};

template <class E>
Expected expect(ErrorCode code, const char* name) {
  return {code, name, [] { throw E("brine: it broke"); },
          [] {
            try {
              throw E("brine: it broke");
            } catch (const E&) {
              return true;
            } catch (...) {
              return false;
            }
          }};
}

std::vector<Expected> every_class() {
  return {expect<brine::NotRegistered>(ErrorCode::kNotRegistered, "brine::NotRegistered"),
          expect<brine::NotSerializable>(ErrorCode::kNotSerializable, "brine::NotSerializable"),
          expect<brine::DecodeError>(ErrorCode::kDecode, "brine::DecodeError"),
          expect<brine::ArenaExhausted>(ErrorCode::kArenaExhausted, "brine::ArenaExhausted"),
          expect<brine::WorkerCrashed>(ErrorCode::kWorkerCrashed, "brine::WorkerCrashed"),
          expect<brine::TimeoutError>(ErrorCode::kTimeout, "brine::TimeoutError"),
          expect<brine::Cancelled>(ErrorCode::kCancelled, "brine::Cancelled"),
          expect<brine::RingFull>(ErrorCode::kRingFull, "brine::RingFull"),
          expect<brine::PoolClosed>(ErrorCode::kPoolClosed, "brine::PoolClosed"),
          expect<brine::SegmentError>(ErrorCode::kSegment, "brine::SegmentError"),
          expect<brine::BrokenPool>(ErrorCode::kBrokenPool, "brine::BrokenPool")};
}

TEST(ErrorTest, EveryClassDemanglesToItsPublicNameAndSaysItInWhat) {
  for (const Expected& x : every_class()) {
    try {
      x.raise();
      ADD_FAILURE() << x.name << " did not throw";
    } catch (const brine::Error& e) {
      EXPECT_EQ(brine::demangle(typeid(e).name()), x.name);
      EXPECT_STREQ(e.name(), x.name);
      EXPECT_EQ(e.code(), x.code);
      EXPECT_EQ(std::string(e.what()), std::string(x.name) + ": it broke");
      EXPECT_STREQ(brine::error_name(x.code), x.name);
    }
    EXPECT_TRUE(x.caught_specifically()) << x.name;
  }
}

TEST(ErrorTest, ThrowErrorRebuildsTheClassOfEachCodeWithoutNamingItTwice) {
  for (const Expected& x : every_class()) {
    // What a worker reports: the type name and the what() of the error it caught.
    std::string reported;
    try {
      x.raise();
    } catch (const brine::Error& e) {
      reported = e.what();
    }
    try {
      brine::throw_error(x.code, x.name, reported, "fn");
    } catch (const brine::Error& e) {
      EXPECT_EQ(brine::demangle(typeid(e).name()), x.name);
      EXPECT_EQ(std::string(e.what()), std::string(x.name) + ": it broke");
      EXPECT_EQ(e.code(), x.code);
    }
  }
}

TEST(ErrorTest, RemoteErrorNamesItselfAndTheRemoteType) {
  try {
    brine::throw_error(ErrorCode::kRemote, "std::domain_error", "division by zero", "divide");
  } catch (const brine::RemoteError& e) {
    EXPECT_EQ(brine::demangle(typeid(e).name()), "brine::RemoteError");
    EXPECT_STREQ(e.name(), "brine::RemoteError");
    EXPECT_EQ(e.type_name(), "std::domain_error");
    EXPECT_EQ(e.message(), "division by zero");
    EXPECT_EQ(e.where(), "divide");
    EXPECT_EQ(std::string(e.what()), "brine::RemoteError: std::domain_error in divide: division by zero");
  }
}

TEST(ErrorTest, AnUnknownCodeIsThePlainBaseClass) {
  try {
    brine::throw_error(ErrorCode::kUnknown, "", "brine: something odd", "");
  } catch (const std::exception& e) {
    EXPECT_EQ(brine::demangle(typeid(e).name()), "brine::Error");
    EXPECT_EQ(std::string(e.what()), "brine::Error: something odd");
  }
  EXPECT_STREQ(brine::Error(ErrorCode::kUnknown, "x").name(), "brine::Error");
}

}  // namespace
