#include "generator.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "compat.h"
#include "cpp_writer.h"
#include "parser.h"
#include "schema_writer.h"

namespace brine::codegen {

namespace {

namespace fs = std::filesystem;

struct Output {
  fs::path path;
  std::string text;
};

// Writes every output to a temporary file beside it, then renames them into place. On failure
// removes what it wrote and returns false.
bool write_all(const std::vector<Output>& outputs, std::ostream& diagnostics) {
  std::vector<fs::path> temps;
  auto clean = [&] {
    std::error_code ignored;
    for (const auto& t : temps) fs::remove(t, ignored);
  };
  for (const auto& o : outputs) {
    fs::path temp = o.path;
    temp += ".tmp-" + std::to_string(::getpid());
    temps.push_back(temp);
    std::ofstream file(temp, std::ios::binary | std::ios::trunc);
    file << o.text;
    file.close();
    if (!file) {
      diagnostics << o.path.string() << ": error: cannot write the file (is the directory writable?)\n";
      clean();
      return false;
    }
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    std::error_code ec;
    fs::rename(temps[i], outputs[i].path, ec);
    if (ec) {
      diagnostics << outputs[i].path.string() << ": error: cannot replace the file: " << ec.message() << "\n";
      clean();
      return false;
    }
  }
  return true;
}

std::string escape_make(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ' ' || c == '#') out += '\\';
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

std::string depfile_text(const fs::path& target, const std::vector<std::string>& files) {
  std::string out = escape_make(target.string()) + ":";
  for (const auto& f : files) out += " \\\n  " + escape_make(fs::absolute(f).lexically_normal().string());
  return out + "\n";
}

}  // namespace

int run(const Options& options, std::ostream& diagnostics) {
  ParseResult parsed = parse_header(options.header, options.clang_args);
  Header& header = parsed.header;
  header.stem = fs::path(options.header).stem().string();
  for (const auto& e : parsed.errors) diagnostics << format(e) << "\n";
  if (!parsed.errors.empty()) return 1;

  const std::string schema = write_schema(header);
  if (!options.check_compat.empty()) {
    bool broken = false;
    for (const auto& d : check_compat(header, schema, options.check_compat)) {
      diagnostics << format(d) << "\n";
      broken = broken || !d.warning;
    }
    if (broken) {
      diagnostics << options.header << ": error: the schema is not compatible with " << options.check_compat
                  << " (rules: docs/codegen.md)\n";
      return 1;
    }
  }
  if (options.output_dir.empty()) return 0;

  const fs::path dir(options.output_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    diagnostics << dir.string() << ": error: cannot create the output directory: " << ec.message() << "\n";
    return 1;
  }
  const std::string include_as =
      options.include_as.empty() ? fs::path(options.header).filename().string() : options.include_as;
  std::vector<Output> outputs = {
      {dir / (header.stem + ".fbs"), schema},
      {dir / (header.stem + ".brine.h"), write_reducers_header(header, include_as)},
      {dir / (header.stem + ".brine.cc"), write_registration_source(header)},
  };
  if (!options.depfile.empty()) {
    outputs.push_back({options.depfile, depfile_text(fs::absolute(outputs.front().path), header.dependencies)});
  }
  return write_all(outputs, diagnostics) ? 0 : 1;
}

}  // namespace brine::codegen
