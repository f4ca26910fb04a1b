#include "runtime/wasm_writer.h"

#include <cassert>

namespace kestrel::runtime::wasm {
namespace {

void AppendName(std::vector<uint8_t>& out, std::string_view name) {
  Code::AppendU32(out, name.size());
  out.insert(out.end(), name.begin(), name.end());
}

void AppendSection(std::vector<uint8_t>& out, uint8_t id, const std::vector<uint8_t>& body) {
  out.push_back(id);
  Code::AppendU32(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
}

}  // namespace

void Code::AppendU32(std::vector<uint8_t>& out, uint64_t v) {
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    out.push_back(v != 0 ? (b | 0x80) : b);
  } while (v != 0);
}

void Code::AppendS64(std::vector<uint8_t>& out, int64_t v) {
  while (true) {
    uint8_t b = v & 0x7F;
    v >>= 7;  // arithmetic shift
    bool done = (v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0);
    out.push_back(done ? b : (b | 0x80));
    if (done) return;
  }
}

uint32_t Code::AddLocal(ValType type, uint32_t num_params) {
  locals_.push_back(type);
  return num_params + static_cast<uint32_t>(locals_.size()) - 1;
}

uint32_t ModuleWriter::AddType(const FuncType& type) {
  for (uint32_t i = 0; i < types_.size(); ++i) {
    if (types_[i] == type) return i;
  }
  types_.push_back(type);
  return static_cast<uint32_t>(types_.size() - 1);
}

uint32_t ModuleWriter::AddImport(std::string_view module, std::string_view name, const FuncType& type) {
  assert(functions_.empty() && "imports come before functions");
  imports_.push_back({std::string(module), std::string(name), AddType(type)});
  return static_cast<uint32_t>(imports_.size() - 1);
}

uint32_t ModuleWriter::AddFunction(const FuncType& type, Code code) {
  functions_.push_back({AddType(type), std::move(code)});
  return static_cast<uint32_t>(imports_.size() + functions_.size() - 1);
}

uint32_t ModuleWriter::AddGlobal(ValType type, bool mutable_, int64_t init) {
  globals_.push_back({type, mutable_, init});
  return static_cast<uint32_t>(globals_.size() - 1);
}

std::vector<uint8_t> ModuleWriter::Finish() const {
  std::vector<uint8_t> out = {0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00};
  std::vector<uint8_t> body;

  Code::AppendU32(body, types_.size());
  for (const FuncType& t : types_) {
    body.push_back(0x60);
    Code::AppendU32(body, t.params.size());
    for (ValType v : t.params) body.push_back(static_cast<uint8_t>(v));
    Code::AppendU32(body, t.results.size());
    for (ValType v : t.results) body.push_back(static_cast<uint8_t>(v));
  }
  AppendSection(out, 1, body);

  if (!imports_.empty() || memory_import_) {
    body.clear();
    Code::AppendU32(body, imports_.size() + (memory_import_ ? 1 : 0));
    for (const Import& i : imports_) {
      AppendName(body, i.module);
      AppendName(body, i.name);
      body.push_back(0x00);  // a function
      Code::AppendU32(body, i.type);
    }
    if (memory_import_) {
      AppendName(body, memory_import_->module);
      AppendName(body, memory_import_->name);
      body.push_back(0x02);  // a memory
      body.push_back(0x00);  // limits: min only
      Code::AppendU32(body, memory_import_pages_);
    }
    AppendSection(out, 2, body);
  }

  body.clear();
  Code::AppendU32(body, functions_.size());
  for (const Function& f : functions_) Code::AppendU32(body, f.type);
  AppendSection(out, 3, body);

  if (memory_pages_ > 0) {
    body.clear();
    Code::AppendU32(body, 1);
    body.push_back(0x00);  // limits: min only
    Code::AppendU32(body, memory_pages_);
    AppendSection(out, 5, body);
  }

  if (!globals_.empty()) {
    body.clear();
    Code::AppendU32(body, globals_.size());
    for (const Global& g : globals_) {
      body.push_back(static_cast<uint8_t>(g.type));
      body.push_back(g.mutable_ ? 1 : 0);
      body.push_back(static_cast<uint8_t>(g.type == ValType::kI64 ? Opcode::kI64Const : Opcode::kI32Const));
      Code::AppendS64(body, g.init);
      body.push_back(static_cast<uint8_t>(Opcode::kEnd));
    }
    AppendSection(out, 6, body);
  }

  body.clear();
  Code::AppendU32(body, exports_.size());
  for (const Export& e : exports_) {
    AppendName(body, e.name);
    body.push_back(e.kind);
    Code::AppendU32(body, e.index);
  }
  AppendSection(out, 7, body);

  body.clear();
  Code::AppendU32(body, functions_.size());
  for (const Function& f : functions_) {
    std::vector<uint8_t> fn;
    // Locals as runs of one type.
    std::vector<std::pair<uint32_t, ValType>> runs;
    for (ValType v : f.code.locals_) {
      if (!runs.empty() && runs.back().second == v) {
        ++runs.back().first;
      } else {
        runs.emplace_back(1, v);
      }
    }
    Code::AppendU32(fn, runs.size());
    for (auto [n, v] : runs) {
      Code::AppendU32(fn, n);
      fn.push_back(static_cast<uint8_t>(v));
    }
    fn.insert(fn.end(), f.code.bytes_.begin(), f.code.bytes_.end());
    fn.push_back(static_cast<uint8_t>(Opcode::kEnd));
    Code::AppendU32(body, fn.size());
    body.insert(body.end(), fn.begin(), fn.end());
  }
  AppendSection(out, 10, body);

  if (!data_.empty()) {
    body.clear();
    Code::AppendU32(body, 1);
    body.push_back(0x00);  // active, memory 0
    body.push_back(static_cast<uint8_t>(Opcode::kI32Const));
    Code::AppendS64(body, data_offset_);
    body.push_back(static_cast<uint8_t>(Opcode::kEnd));
    Code::AppendU32(body, data_.size());
    body.insert(body.end(), data_.begin(), data_.end());
    AppendSection(out, 11, body);
  }
  return out;
}

}  // namespace kestrel::runtime::wasm
