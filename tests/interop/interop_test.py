#!/usr/bin/env python3
"""brine's bytes against FlatBuffers readers nobody here wrote (issue 11, item 3).

Each test is one ctest entry (label `interop`):

  python_reads_brine  (a) code from `flatc --python` (and the `flatbuffers` package, nothing
                      else) reads brine::dumps of a table, a struct vector, a struct and a
                      dumps_call, field by field
  brine_reads_python  (b) that code writes values with its builders; brine::loads reads them
  flatc_json          (c) `flatc --json` with brine's schema prints the dumps with field names
                      and real numbers
  flatc_cpp_verifies_brine
                      C++ from `flatc --cpp` verifies brine's dumps with its generated
                      verifier (and refuses another type's dump), then reads every field
  schema_evolution    (d) v1/v2 of one type (fields added at the end) read each other's dumps,
                      in C++ and with flatc's Python readers and writers; a changed field type is refused
                      with a brine::DecodeError naming both types

The expected values are written out here a second time (interop_cpp.cc and evolve.cc hold the
C++ copy): each side checks the other's bytes against its own belief. Any disagreement is a
failure with the field named; the script exits 1.
"""

import argparse
import importlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys

try:
    import flatbuffers  # Debian: python3-flatbuffers (tools/install-deps.sh)
except ImportError:
    sys.exit("interop: the python module `flatbuffers` is missing for " + sys.executable +
             "; run tools/install-deps.sh (Debian package python3-flatbuffers)")

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("check failed: " + what, file=sys.stderr)


def f32(v):
    """v rounded to a float32, as Python reads a float field."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def same_f32(a, b):
    return a is not None and struct.pack("<f", a) == struct.pack("<f", b)


def same_f64(a, b):
    """Bitwise: -0.0 is not 0.0."""
    return a is not None and struct.pack("<d", a) == struct.pack("<d", b)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kw)
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        sys.exit("interop: command failed (%d): %s" % (r.returncode, " ".join(cmd)))
    return r.stdout


def schema_facts(fbs_path):
    """(root_type, file_identifier) declared by a .fbs brine printed."""
    text = open(fbs_path).read()
    root = re.search(r"^root_type\s+([\w.]+)\s*;", text, re.M)
    ident = re.search(r'^file_identifier\s+"(....)"\s*;', text, re.M)
    if not root or not ident:
        sys.exit("interop: %s has no root_type or file_identifier:\n%s" % (fbs_path, text))
    return root.group(1), ident.group(1)


def generate_python(flatc, schemas, out_dir):
    """`flatc --python` for every schema into one package tree. A type several schemas declare
    (Vec3, Inner) must come out the same each time, but for the file identifier flatc writes
    into every table's BufferHasIdentifier (a root is declared by one schema only)."""
    seen = {}
    for fbs in schemas:
        run([flatc, "--python", "-o", out_dir, fbs])
        for base, _, files in os.walk(out_dir):
            for name in files:
                if not name.endswith(".py") or name == "__init__.py":
                    continue
                path = os.path.join(base, name)
                text = re.sub(r'BufferHasIdentifier\(buf, offset, b"[^"]*"', "", open(path).read())
                if path in seen:
                    check(seen[path] == text, "%s generated from %s differs from an earlier schema's" % (path, fbs))
                seen[path] = text
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    importlib.invalidate_caches()


def root_class(fbs_path):
    """The flatc-generated class of the schema's root_type, and its file identifier."""
    root, ident = schema_facts(fbs_path)
    module = importlib.import_module(root)
    return getattr(module, root.rsplit(".", 1)[1]), ident


def read_buffer(path, cls, ident):
    buf = bytearray(open(path, "rb").read())
    name = cls.__name__
    check(bytes(buf[4:8]) == ident.encode(), "%s: bytes 4..7 are %r, the schema says %r" % (path, bytes(buf[4:8]), ident))
    check(getattr(cls, name + "BufferHasIdentifier")(buf, 0), "%s: %sBufferHasIdentifier is false" % (path, name))
    return cls.GetRootAs(buf, 0)


# ---- the values (interop_cpp.cc: expected_sample, expected_points, write_all) ----------------

SAMPLE = {
    "name": "brine \u2192 python \u2713",
    "values": [3.5, -0.25, 0.1, 1e300, -0.0],
    "points": [(1.5, -2.25, 0.1, 7), (1e-3, 65504.0, -3.0e38, 4294967295), (0.0, 0.0, 0.0, 0)],
    "inner": ("nested", -9007199254740993, ["a", "", "tag three"]),
    "maybe": -42,
    "note": "optional string",
    "color": 200,
    "flag": True,
    "big": 18446744073709551615,
}
POINTS = [(i * 0.5, -float(i), i / 8.0, i * 3 + 1) for i in range(1000)]
VEC3 = (-1.5, 2.0, 0.1, 12345)
CALL_POINTS = [(1.0, 2.0, 3.0, 10), (4.0, 5.0, 6.0, 11)]
CALL_ORIGIN = (0.5, 0.25, 0.125, 99)


EXTRAS = {
    "counts": [("alpha", -2), ("mid", 300), ("zeta", 1)],  # sorted by key, as brine writes a map
    "choice": "str",
    "nested": [[1, 2], [], [3]],
    "pair": (-5, "p"),
    "arr": [1.5, 2.5, -3.5],
    "bits": [True, False, True],
}


def field_type(fbs_path, table, field):
    """The type name of `field` in `table` of a .fbs brine printed ("[T]" gives T)."""
    text = open(fbs_path).read()
    body = re.search(r"^table %s \{\n(.*?)^\}" % table, text, re.M | re.S)
    m = body and re.search(r"^\s*%s:\s*\[?([\w.]+)" % field, body.group(1), re.M)
    if not m:
        sys.exit("interop: no field %s.%s in %s" % (table, field, fbs_path))
    return m.group(1)


def builder_module(fbs_path, table, field):
    """The flatc-generated module of the table a field holds."""
    return importlib.import_module(field_type(fbs_path, table, field))


def check_extras(e, what, choice):
    counts = [(e.Counts(j).Key(), e.Counts(j).Value()) for j in range(e.CountsLength())]
    check(counts == [(k.encode(), v) for k, v in EXTRAS["counts"]], "%s.counts = %r" % (what, counts))
    c = e.Choice()
    got = None if c is None else (c.F0(), c.F1(), c.F2())
    want = (None, choice.encode(), None) if isinstance(choice, str) else (None, None, choice)
    check(got == want, "%s.choice (f0, f1, f2) = %r, expected %r" % (what, got, want))
    nested = [[e.Nested(j).Value(k) for k in range(e.Nested(j).ValueLength())] for j in range(e.NestedLength())]
    check(nested == EXTRAS["nested"], "%s.nested = %r" % (what, nested))
    pair = e.Pair()
    check(pair is not None and (pair.First(), pair.Second()) == (EXTRAS["pair"][0], EXTRAS["pair"][1].encode()),
          "%s.pair is wrong" % what)
    arr = [e.Arr(j) for j in range(e.ArrLength())]
    check(arr == EXTRAS["arr"], "%s.arr = %r" % (what, arr))
    bits = [e.Bits(j) for j in range(e.BitsLength())]
    check(bits == EXTRAS["bits"], "%s.bits = %r" % (what, bits))


def check_vec3(v, expected, what):
    check(v is not None, what + " is absent")
    if v is None:
        return
    for axis, got, want in (("x", v.X(), expected[0]), ("y", v.Y(), expected[1]), ("z", v.Z(), expected[2])):
        check(same_f32(got, want), "%s.%s = %r, expected %r" % (what, axis, got, f32(want)))
    check(v.Id() == expected[3], "%s.id = %r, expected %r" % (what, v.Id(), expected[3]))


def check_inner(inner, expected, what):
    check(inner is not None, what + " is absent")
    if inner is None:
        return
    label, count, tags = expected
    check(inner.Label() == label.encode(), "%s.label = %r" % (what, inner.Label()))
    check(inner.Count() == count, "%s.count = %r, expected %r" % (what, inner.Count(), count))
    check(inner.TagsLength() == len(tags), "%s.tags has %d elements" % (what, inner.TagsLength()))
    for j, tag in enumerate(tags[:inner.TagsLength()]):
        check(inner.Tags(j) == tag.encode(), "%s.tags[%d] = %r, expected %r" % (what, j, inner.Tags(j), tag))


def check_sample(s, what):
    check(s.Name() == SAMPLE["name"].encode(), "%s.name = %r" % (what, s.Name()))
    check(s.ValuesLength() == len(SAMPLE["values"]), "%s.values has %d elements" % (what, s.ValuesLength()))
    for j, want in enumerate(SAMPLE["values"][:s.ValuesLength()]):
        check(same_f64(s.Values(j), want), "%s.values[%d] = %r, expected %r" % (what, j, s.Values(j), want))
    check(s.PointsLength() == len(SAMPLE["points"]), "%s.points has %d elements" % (what, s.PointsLength()))
    for j, want in enumerate(SAMPLE["points"][:s.PointsLength()]):
        check_vec3(s.Points(j), want, "%s.points[%d]" % (what, j))
    check_inner(s.Inner(), SAMPLE["inner"], what + ".inner")
    check(s.Maybe() == SAMPLE["maybe"], "%s.maybe = %r" % (what, s.Maybe()))
    check(s.Missing() is None, "%s.missing = %r, expected absent (None)" % (what, s.Missing()))
    check(s.Note() == SAMPLE["note"].encode(), "%s.note = %r" % (what, s.Note()))
    check(s.Color() == SAMPLE["color"], "%s.color = %r" % (what, s.Color()))
    check(s.Flag() is True, "%s.flag = %r" % (what, s.Flag()))
    check(s.Big() == SAMPLE["big"], "%s.big = %r" % (what, s.Big()))


# ---- (a) ---------------------------------------------------------------------------------------

def python_reads_brine(a):
    run([a.cpp, "write", a.work])
    schemas = [os.path.join(a.work, n + ".fbs") for n in ("sample", "points", "vec3", "call", "extras")]
    generate_python(a.flatc, schemas, os.path.join(a.work, "gen"))

    Sample, ident = root_class(schemas[0])
    check_sample(read_buffer(os.path.join(a.work, "sample.bin"), Sample, ident), "sample")

    # Sample{}: defaults, the empty optionals absent.
    d = read_buffer(os.path.join(a.work, "sample_default.bin"), Sample, ident)
    check(d.Name() in (None, b""), "default.name = %r" % d.Name())
    check(d.ValuesLength() == 0 and d.PointsLength() == 0, "default vectors are not empty")
    check(d.Maybe() is None and d.Missing() is None, "default optionals are not absent")
    check(d.Note() is None, "default.note = %r, expected absent" % d.Note())
    check(d.Color() == 1, "default.color = %r, expected 1 (Color::kRed)" % d.Color())
    check(d.Flag() is False and d.Big() == 0, "default flag/big = %r/%r" % (d.Flag(), d.Big()))
    inner = d.Inner()
    if inner is not None:
        check(inner.Count() == 0 and inner.TagsLength() == 0, "default.inner is not empty")

    Box, ident = root_class(schemas[1])
    box = read_buffer(os.path.join(a.work, "points.bin"), Box, ident)
    check(box.ValueLength() == len(POINTS), "points has %d elements, expected %d" % (box.ValueLength(), len(POINTS)))
    for j, want in enumerate(POINTS[:box.ValueLength()]):
        check_vec3(box.Value(j), want, "points[%d]" % j)

    Box, ident = root_class(schemas[2])
    check_vec3(read_buffer(os.path.join(a.work, "vec3.bin"), Box, ident).Value(), VEC3, "vec3")

    # The call: interop::weigh("call tag", CALL_POINTS, CALL_ORIGIN, 2.5, Inner{"inner arg", 5, {"x"}}).
    Args, ident = root_class(schemas[3])
    call = read_buffer(os.path.join(a.work, "call.bin"), Args, ident)
    check(call.Arg0() == b"call tag", "call.arg0 = %r" % call.Arg0())
    check(call.Arg1Length() == len(CALL_POINTS), "call.arg1 has %d elements" % call.Arg1Length())
    for j, want in enumerate(CALL_POINTS[:call.Arg1Length()]):
        check_vec3(call.Arg1(j), want, "call.arg1[%d]" % j)
    check_vec3(call.Arg2(), CALL_ORIGIN, "call.arg2")
    check(same_f64(call.Arg3(), 2.5), "call.arg3 = %r" % call.Arg3())
    check_inner(call.Arg4(), ("inner arg", 5, ["x"]), "call.arg4")

    Extras, ident = root_class(schemas[4])
    check_extras(read_buffer(os.path.join(a.work, "extras.bin"), Extras, ident), "extras", EXTRAS["choice"])


# ---- (b) ---------------------------------------------------------------------------------------

def build_sample(b, m):
    """A Sample built with flatc's generated builder functions (module `m`), fields added in
    reverse order of their slots, `missing` never added."""
    Vec3 = importlib.import_module("interop.fb.Vec3")
    Inner = importlib.import_module("interop.fb.Inner")
    label, count, tags = SAMPLE["inner"]
    tag_offsets = [b.CreateString(t) for t in tags]
    label_off = b.CreateString(label)
    Inner.InnerStartTagsVector(b, len(tags))
    for off in reversed(tag_offsets):
        b.PrependUOffsetTRelative(off)
    tags_off = b.EndVector()
    Inner.InnerStart(b)
    Inner.InnerAddTags(b, tags_off)
    Inner.InnerAddCount(b, count)
    Inner.InnerAddLabel(b, label_off)
    inner_off = Inner.InnerEnd(b)

    name_off = b.CreateString(SAMPLE["name"])
    note_off = b.CreateString(SAMPLE["note"])
    m.SampleStartValuesVector(b, len(SAMPLE["values"]))
    for v in reversed(SAMPLE["values"]):
        b.PrependFloat64(v)
    values_off = b.EndVector()
    m.SampleStartPointsVector(b, len(SAMPLE["points"]))
    for p in reversed(SAMPLE["points"]):
        Vec3.CreateVec3(b, *p)
    points_off = b.EndVector()

    m.SampleStart(b)
    m.SampleAddBig(b, SAMPLE["big"])
    m.SampleAddFlag(b, SAMPLE["flag"])
    m.SampleAddColor(b, SAMPLE["color"])
    m.SampleAddNote(b, note_off)
    m.SampleAddMaybe(b, SAMPLE["maybe"])
    m.SampleAddInner(b, inner_off)
    m.SampleAddPoints(b, points_off)
    m.SampleAddValues(b, values_off)
    m.SampleAddName(b, name_off)
    return m.SampleEnd(b)


def build_extras(b, fbs, choices):
    """Extras with flatc's builders; `choices` maps the variant's fields (f0, f1, f2) to values."""
    Entry = builder_module(fbs, "Extras", "counts")
    Variant = builder_module(fbs, "Extras", "choice")
    Boxed = builder_module(fbs, "Extras", "nested")
    Pair = builder_module(fbs, "Extras", "pair")
    m = importlib.import_module("interop.fb.Extras")
    entries = []
    for key, value in EXTRAS["counts"]:
        k = b.CreateString(key)
        Entry.Start(b)
        Entry.AddKey(b, k)
        Entry.AddValue(b, value)
        entries.append(Entry.End(b))
    m.StartCountsVector(b, len(entries))
    for off in reversed(entries):
        b.PrependUOffsetTRelative(off)
    counts = b.EndVector()
    text = b.CreateString(choices["f1"]) if "f1" in choices else None
    Variant.Start(b)
    if "f0" in choices:
        Variant.AddF0(b, choices["f0"])
    if text is not None:
        Variant.AddF1(b, text)
    if "f2" in choices:
        Variant.AddF2(b, choices["f2"])
    choice = Variant.End(b)
    boxes = []
    for inner in EXTRAS["nested"]:
        Boxed.StartValueVector(b, len(inner))
        for x in reversed(inner):
            b.PrependInt32(x)
        vec = b.EndVector()
        Boxed.Start(b)
        Boxed.AddValue(b, vec)
        boxes.append(Boxed.End(b))
    m.StartNestedVector(b, len(boxes))
    for off in reversed(boxes):
        b.PrependUOffsetTRelative(off)
    nested = b.EndVector()
    second = b.CreateString(EXTRAS["pair"][1])
    Pair.Start(b)
    Pair.AddFirst(b, EXTRAS["pair"][0])
    Pair.AddSecond(b, second)
    pair = Pair.End(b)
    m.StartArrVector(b, len(EXTRAS["arr"]))
    for x in reversed(EXTRAS["arr"]):
        b.PrependFloat64(x)
    arr = b.EndVector()
    m.StartBitsVector(b, len(EXTRAS["bits"]))
    for x in reversed(EXTRAS["bits"]):
        b.PrependBool(x)
    bits = b.EndVector()
    m.Start(b)
    m.AddCounts(b, counts)
    m.AddChoice(b, choice)
    m.AddNested(b, nested)
    m.AddPair(b, pair)
    m.AddArr(b, arr)
    m.AddBits(b, bits)
    return m.End(b)


def write_buffer(path, builder, root, ident):
    builder.Finish(root, file_identifier=ident.encode())
    with open(path, "wb") as f:
        f.write(builder.Output())


def brine_reads_python(a):
    run([a.cpp, "write", a.work])
    schemas = [os.path.join(a.work, n + ".fbs") for n in ("sample", "points", "vec3", "extras")]
    generate_python(a.flatc, schemas, os.path.join(a.work, "gen"))
    Vec3 = importlib.import_module("interop.fb.Vec3")

    Sample, sample_ident = root_class(schemas[0])
    m = sys.modules[Sample.__module__]
    b = flatbuffers.Builder(0)
    write_buffer(os.path.join(a.work, "py_sample.bin"), b, build_sample(b, m), sample_ident)
    # The Python reader agrees with its own writer (so a failure in C++ is brine's).
    check_sample(read_buffer(os.path.join(a.work, "py_sample.bin"), Sample, sample_ident), "py_sample")

    Box, ident = root_class(schemas[1])
    bm = sys.modules[Box.__module__]
    b = flatbuffers.Builder(0)
    getattr(bm, Box.__name__ + "StartValueVector")(b, len(POINTS))
    for p in reversed(POINTS):
        Vec3.CreateVec3(b, *p)
    vec = b.EndVector()
    getattr(bm, Box.__name__ + "Start")(b)
    getattr(bm, Box.__name__ + "AddValue")(b, vec)
    write_buffer(os.path.join(a.work, "py_points.bin"), b, getattr(bm, Box.__name__ + "End")(b), ident)

    Box, ident = root_class(schemas[2])
    bm = sys.modules[Box.__module__]
    b = flatbuffers.Builder(0)
    getattr(bm, Box.__name__ + "Start")(b)
    getattr(bm, Box.__name__ + "AddValue")(b, Vec3.CreateVec3(b, *VEC3))
    write_buffer(os.path.join(a.work, "py_vec3.bin"), b, getattr(bm, Box.__name__ + "End")(b), ident)

    # A sparse Sample, as FlatBuffers writers make them: only `name`, every other field absent.
    b = flatbuffers.Builder(0)
    name_off = b.CreateString("sparse")
    m.SampleStart(b)
    m.SampleAddName(b, name_off)
    write_buffer(os.path.join(a.work, "py_sample_sparse.bin"), b, m.SampleEnd(b), sample_ident)

    # A well-formed Sample under the identifier of another schema: brine must refuse it.
    points_ident = schema_facts(schemas[1])[1]
    check(points_ident != sample_ident, "two schemas share the identifier " + sample_ident)
    b = flatbuffers.Builder(0)
    write_buffer(os.path.join(a.work, "py_sample_wrong_id.bin"), b, build_sample(b, m), points_ident)

    Extras, ident = root_class(schemas[3])
    b = flatbuffers.Builder(0)
    write_buffer(os.path.join(a.work, "py_extras.bin"), b, build_extras(b, schemas[3], {"f2": 0.75}), ident)
    check_extras(read_buffer(os.path.join(a.work, "py_extras.bin"), Extras, ident), "py_extras", 0.75)
    b = flatbuffers.Builder(0)
    write_buffer(os.path.join(a.work, "py_extras_two_choices.bin"), b,
                 build_extras(b, schemas[3], {"f0": 3, "f1": "two"}), ident)

    r = subprocess.run([a.cpp, "read", a.work], capture_output=True, text=True, timeout=30)
    sys.stderr.write(r.stdout + r.stderr)
    check(r.returncode == 0, "brine::loads disagrees with the buffers Python wrote (exit %d)" % r.returncode)


# ---- (c) ---------------------------------------------------------------------------------------

def flatc_json(a, fbs, binary):
    out = os.path.join(a.work, "json")
    # No --raw-binary: flatc also checks the buffer's file identifier against the schema.
    run([a.flatc, "--json", "--strict-json", "-o", out, fbs, "--", binary])
    path = os.path.join(out, os.path.splitext(os.path.basename(binary))[0] + ".json")
    text = open(path).read()
    return text, json.loads(text)


def check_json_vec3(v, expected, what):
    check(isinstance(v, dict), "%s is %r, not an object" % (what, v))
    if not isinstance(v, dict):
        return
    for axis, want in zip(("x", "y", "z"), expected[:3]):
        check(axis in v and same_f32(f32(v[axis]), want), "%s.%s = %r, expected %r" % (what, axis, v.get(axis), want))
    check(v.get("id") == expected[3], "%s.id = %r, expected %r" % (what, v.get("id"), expected[3]))


def flatc_json_test(a):
    run([a.cpp, "write", a.work])
    w = lambda n: os.path.join(a.work, n)  # noqa: E731

    text, s = flatc_json(a, w("sample.fbs"), w("sample.bin"))
    print(text)
    # Real numbers, as written: 3.5 is printed 3.5 (not a 64-bit pattern).
    check(re.search(r'"values"\s*:\s*\[\s*3\.5\s*,\s*-0\.25\s*,', text) is not None, "values are not printed as 3.5, -0.25")
    check(s.get("name") == SAMPLE["name"], "json name = %r" % s.get("name"))
    values = s.get("values", [])
    check(len(values) == len(SAMPLE["values"]), "json values = %r" % values)
    for j, (got, want) in enumerate(zip(values, SAMPLE["values"])):
        check(same_f64(float(got), want), "json values[%d] = %r, expected %r" % (j, got, want))
    points = s.get("points", [])
    check(len(points) == len(SAMPLE["points"]), "json points = %r" % points)
    for j, (got, want) in enumerate(zip(points, SAMPLE["points"])):
        check_json_vec3(got, want, "json points[%d]" % j)
    label, count, tags = SAMPLE["inner"]
    check(s.get("inner") == {"label": label, "count": count, "tags": tags}, "json inner = %r" % s.get("inner"))
    check(s.get("maybe") == SAMPLE["maybe"], "json maybe = %r" % s.get("maybe"))
    check("missing" not in s, "json shows the absent optional: %r" % s.get("missing"))
    check(s.get("note") == SAMPLE["note"], "json note = %r" % s.get("note"))
    check(s.get("color") == SAMPLE["color"], "json color = %r" % s.get("color"))
    check(s.get("flag") is True, "json flag = %r" % s.get("flag"))
    check(s.get("big") == SAMPLE["big"], "json big = %r" % s.get("big"))
    check(set(s) <= {"name", "values", "points", "inner", "maybe", "note", "color", "flag", "big"},
          "json has unknown fields: %r" % sorted(s))

    _, box = flatc_json(a, w("points.fbs"), w("points.bin"))
    got = box.get("value", [])
    check(len(got) == len(POINTS), "json points has %d elements" % len(got))
    for j, (g, want) in enumerate(zip(got, POINTS)):
        check_json_vec3(g, want, "json points[%d]" % j)

    _, call = flatc_json(a, w("call.fbs"), w("call.bin"))
    check(call.get("arg0") == "call tag", "json call.arg0 = %r" % call.get("arg0"))
    arg1 = call.get("arg1", [])
    check(len(arg1) == len(CALL_POINTS), "json call.arg1 = %r" % arg1)
    for j, (g, want) in enumerate(zip(arg1, CALL_POINTS)):
        check_json_vec3(g, want, "json call.arg1[%d]" % j)
    check_json_vec3(call.get("arg2"), CALL_ORIGIN, "json call.arg2")
    check(call.get("arg3") == 2.5, "json call.arg3 = %r" % call.get("arg3"))
    check(call.get("arg4") == {"label": "inner arg", "count": 5, "tags": ["x"]}, "json call.arg4 = %r" % call.get("arg4"))

    _, extras = flatc_json(a, w("extras.fbs"), w("extras.bin"))
    check(extras.get("counts") == [{"key": k, "value": v} for k, v in EXTRAS["counts"]],
          "json extras.counts = %r (sorted by key?)" % extras.get("counts"))
    check(extras.get("choice") == {"f1": EXTRAS["choice"]}, "json extras.choice = %r" % extras.get("choice"))
    check(extras.get("nested") == [{"value": v} for v in EXTRAS["nested"]], "json extras.nested = %r" % extras.get("nested"))
    check(extras.get("pair") == {"first": EXTRAS["pair"][0], "second": EXTRAS["pair"][1]},
          "json extras.pair = %r" % extras.get("pair"))
    check(extras.get("arr") == EXTRAS["arr"], "json extras.arr = %r" % extras.get("arr"))
    check(extras.get("bits") == EXTRAS["bits"], "json extras.bits = %r" % extras.get("bits"))

    # flatc checks the identifier: a Sample dump under the points schema is refused.
    r = subprocess.run([a.flatc, "--json", "-o", os.path.join(a.work, "json_wrong"), w("points.fbs"), "--",
                        w("sample.bin")], capture_output=True, text=True, timeout=30)
    check(r.returncode != 0, "flatc accepted a Sample dump as a points dump")


# ---- (d) ---------------------------------------------------------------------------------------

RECORD_V1 = {"id": 7, "name": b"record seven", "weights": [0.5, -1.25], "meta": (b"ada", 3)}


def read_record(gen_dir, path, writer, reader):
    """Reads an evolve::Record dump with the flatc --python code in gen_dir. Runs in a process of
    its own: every version's code is the same module, evolve.fb.Record."""
    sys.path.insert(0, gen_dir)
    Record = importlib.import_module("evolve.fb.Record").Record
    buf = bytearray(open(path, "rb").read())
    r = Record.GetRootAs(buf, 0)
    what = "v%s reading a v%s dump" % (reader, writer)
    check(r.Id() == RECORD_V1["id"], "%s: id = %r" % (what, r.Id()))
    check(r.Name() == RECORD_V1["name"], "%s: name = %r" % (what, r.Name()))
    weights = [r.Weights(j) for j in range(r.WeightsLength())]
    check(weights == RECORD_V1["weights"], "%s: weights = %r" % (what, weights))
    meta = r.Meta()
    check(meta is not None and (meta.Author(), meta.Revision()) == RECORD_V1["meta"], "%s: meta wrong" % what)
    if reader == "2":
        history = [meta.History(j) for j in range(meta.HistoryLength())] if meta is not None else None
        extra = r.Extra()
        if writer == "2":
            check(history == [1, -2, 3], "%s: meta.history = %r" % (what, history))
            check(r.Score() == 2.75 and r.Rank() == 4 and r.Comment() == b"added in v2", "%s: added fields wrong" % what)
            check(extra is not None and (extra.Author(), extra.Revision()) == (b"grace", 9), "%s: extra wrong" % what)
        else:
            check(history == [], "%s: meta.history = %r, expected empty" % (what, history))
            check(r.Score() == 0.0 and r.Rank() is None and r.Comment() is None and extra is None,
                  "%s: added fields are not defaults: %r %r %r %r" % (what, r.Score(), r.Rank(), r.Comment(), extra))


def write_record(gen_dir, path, version):
    """Writes the Record every version of evolve.cc writes, with the flatc --python builders of
    `version` (in gen_dir), under the schema's identifier. Runs in a process of its own."""
    sys.path.insert(0, gen_dir)
    R = importlib.import_module("evolve.fb.Record")
    M = importlib.import_module("evolve.fb.Meta")
    b = flatbuffers.Builder(0)

    def meta(author, revision, history):
        a_off = b.CreateString(author)
        h_off = None
        if version == "2":
            M.StartHistoryVector(b, len(history))
            for x in reversed(history):
                b.PrependInt16(x)
            h_off = b.EndVector()
        M.Start(b)
        M.AddAuthor(b, a_off)
        M.AddRevision(b, revision)
        if h_off is not None:
            M.AddHistory(b, h_off)
        return M.End(b)

    name = b.CreateString("record seven")
    R.StartWeightsVector(b, 2)
    b.PrependFloat32(-1.25)
    b.PrependFloat32(0.5)
    weights = b.EndVector()
    meta_off = meta("ada", 3, [1, -2, 3])
    if version == "2":
        comment = b.CreateString("added in v2")
        extra = meta("grace", 9, [])
    R.Start(b)
    R.AddId(b, 7)
    R.AddName(b, name)
    R.AddWeights(b, weights)
    R.AddMeta(b, meta_off)
    if version == "2":
        R.AddScore(b, 2.75)
        R.AddRank(b, 4)
        R.AddComment(b, comment)
        R.AddExtra(b, extra)
    ident = schema_facts(os.path.join(os.path.dirname(gen_dir), "v%s.fbs" % version))[1]
    b.Finish(R.End(b), file_identifier=ident.encode())
    with open(path, "wb") as f:
        f.write(b.Output())


def schema_evolution(a):
    w = lambda n: os.path.join(a.work, n)  # noqa: E731
    os.makedirs(a.work, exist_ok=True)
    exes = {"1": a.evolve_v1, "2": a.evolve_v2, "changed": a.evolve_changed}
    names = {}
    for v, exe in exes.items():
        run([exe, "write", w("v%s.bin" % v)])
        run([exe, "schema", w("v%s.fbs" % v)])
        names[v] = run([exe, "name"]).strip()
    check(len(set(names.values())) == 3, "the three versions do not have three type signatures: %r" % names)
    # Same qualified type, so the same root and identifier: a v1 reader accepts v2's bytes.
    facts = {v: schema_facts(w("v%s.fbs" % v)) for v in exes}
    check(facts["1"] == facts["2"] == facts["changed"], "root/identifier differ between versions: %r" % facts)

    # brine reads both ways: old ignores new fields, new sees defaults.
    for reader in ("1", "2"):
        for writer in ("1", "2"):
            r = subprocess.run([exes[reader], "read", w("v%s.bin" % writer), writer], capture_output=True, text=True,
                               timeout=30)
            sys.stderr.write(r.stdout + r.stderr)
            check(r.returncode == 0, "brine v%s reading a v%s dump failed (exit %d)" % (reader, writer, r.returncode))

    # A field's type changed: refused both ways, the message naming both types.
    for reader, writer in (("changed", "1"), ("changed", "2"), ("1", "changed"), ("2", "changed")):
        r = subprocess.run([exes[reader], "refuse", w("v%s.bin" % writer)], capture_output=True, text=True, timeout=30)
        what = "v%s reading a v%s dump" % (reader, writer)
        check(r.returncode == 0, "%s: not refused with a DecodeError (exit %d) %s" % (what, r.returncode, r.stderr))
        message = r.stdout
        for side, v in (("reader", reader), ("writer", writer)):
            check(names[v] in message, "%s: the error does not name the %s's type %s: %s" % (what, side, names[v], message))

    # flatc's Python readers, each in its own process (the versions share module names).
    for v in ("1", "2"):
        run([a.flatc, "--python", "-o", w("gen_v" + v), w("v%s.fbs" % v)])
    for reader in ("1", "2"):
        for writer in ("1", "2"):
            r = subprocess.run([sys.executable, os.path.abspath(__file__), "--work", a.work, "_read_record",
                                w("gen_v" + reader), w("v%s.bin" % writer), writer, reader],
                               capture_output=True, text=True, timeout=30)
            sys.stderr.write(r.stdout + r.stderr)
            check(r.returncode == 0, "flatc Python v%s reading a v%s dump failed" % (reader, writer))

    # The reverse: flatc's Python builders of v1 and v2 write (no brine trailer), brine v1 and
    # v2 read. The v2 reader sees v2's extra fields, or the defaults in a v1 buffer.
    for writer in ("1", "2"):
        run([sys.executable, os.path.abspath(__file__), "--work", a.work, "_write_record", w("gen_v" + writer),
             w("py_v%s.bin" % writer), writer])
        for reader in ("1", "2"):
            r = subprocess.run([exes[reader], "read", w("py_v%s.bin" % writer), writer], capture_output=True,
                               text=True, timeout=30)
            sys.stderr.write(r.stdout + r.stderr)
            check(r.returncode == 0, "brine v%s reading Python's v%s buffer failed (exit %d)" % (reader, writer,
                                                                                             r.returncode))


# ---- flatc --cpp ---------------------------------------------------------------------------------

def flatc_cpp_verifies_brine(a):
    check(len(a.flatc_cpp_reader) == 5, "expected 5 flatc --cpp readers, got %r" % a.flatc_cpp_reader)
    run([a.cpp, "write", a.work])
    for exe in a.flatc_cpp_reader:
        r = subprocess.run([exe, a.work], capture_output=True, text=True, timeout=30)
        sys.stderr.write(r.stdout + r.stderr)
        check(r.returncode == 0, "%s disagrees with brine's dump (exit %d)" % (os.path.basename(exe), r.returncode))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flatc")
    p.add_argument("--cpp")
    p.add_argument("--evolve-v1")
    p.add_argument("--evolve-v2")
    p.add_argument("--evolve-changed")
    p.add_argument("--flatc-cpp-reader", action="append", default=[])
    p.add_argument("--work", required=True)
    p.add_argument("test", choices=["python_reads_brine", "brine_reads_python", "flatc_json", "schema_evolution",
                                    "flatc_cpp_verifies_brine", "_read_record", "_write_record"])
    p.add_argument("rest", nargs="*")
    a = p.parse_args()
    a.work = os.path.abspath(a.work)
    if a.test == "_read_record":
        read_record(*a.rest)
    elif a.test == "_write_record":
        write_record(*a.rest)
    else:
        shutil.rmtree(a.work, ignore_errors=True)  # nothing stale from an earlier run
        os.makedirs(a.work)
        {"python_reads_brine": python_reads_brine, "brine_reads_python": brine_reads_python,
         "flatc_json": flatc_json_test, "schema_evolution": schema_evolution,
         "flatc_cpp_verifies_brine": flatc_cpp_verifies_brine}[a.test](a)
    if FAILURES:
        print("%s: %d check(s) failed" % (a.test, len(FAILURES)), file=sys.stderr)
        return 1
    print("%s: every check passed" % a.test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
