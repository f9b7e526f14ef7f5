@0xb7a3c1e0d2f49a61;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("brine::bench::cp");

struct SmallTask {
  id @0 :UInt64;
  function @1 :Int32;
  argument @2 :Float64;
  name @3 :Text;
}

struct Header {
  kind @0 :Int32;
  stamp @1 :Int64;
  tag @2 :Text;
}

struct MediumStruct {
  id @0 :UInt64;
  name @1 :Text;
  header @2 :Header;
  values @3 :List(Int64);
  scale @4 :Float64;
}

struct BigArray {
  id @0 :UInt64;
  kind @1 :Int32;
  scale @2 :Float64;
  values @3 :List(Float64);
}

struct Record {
  id @0 :UInt64;
  value @1 :Float64;
  name @2 :Text;
}

struct RecordSet {
  records @0 :List(Record);
}

struct Edge {
  from @0 :UInt32;
  to @1 :UInt32;
  weight @2 :Float32;
}

struct Node {
  name @0 :Text;
  outgoing @1 :List(Edge);
  incoming @2 :List(Edge);
}

struct Graph {
  nodes @0 :List(Node);
}
