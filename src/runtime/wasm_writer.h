// A writer of the WebAssembly binary format (MVP, the parts Kestrel's code generator needs):
// types, imports, functions, one memory, globals, exports, code and one data segment.
// Reference: https://webassembly.github.io/spec/core/binary/ . The output is validated by
// wabt in the tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kestrel::runtime::wasm {

enum class ValType : uint8_t { kI32 = 0x7F, kI64 = 0x7E, kF64 = 0x7C };

// Opcodes used by the code generator.
enum class Opcode : uint8_t {
  kUnreachable = 0x00, kBlock = 0x02, kLoop = 0x03, kIf = 0x04, kElse = 0x05, kEnd = 0x0B,
  kBr = 0x0C, kBrIf = 0x0D, kReturn = 0x0F, kCall = 0x10, kDrop = 0x1A, kSelect = 0x1B,
  kLocalGet = 0x20, kLocalSet = 0x21, kLocalTee = 0x22, kGlobalGet = 0x23, kGlobalSet = 0x24,
  kI32Const = 0x41, kI64Const = 0x42,
  kI32Eqz = 0x45, kI32Eq = 0x46, kI32Ne = 0x47, kI32LtS = 0x48, kI32GtS = 0x4A, kI32LeS = 0x4C,
  kI32GeS = 0x4E, kI64Eq = 0x51, kI64LtS = 0x53, kI64GtS = 0x55,
  kI32Add = 0x6A, kI32Sub = 0x6B, kI32And = 0x71, kI32Or = 0x72, kI32Xor = 0x73, kI64Sub = 0x7D,
  kI64ExtendI32S = 0xAC,
};
inline constexpr uint8_t kBlockVoid = 0x40;

struct FuncType {
  std::vector<ValType> params;
  std::vector<ValType> results;
  friend bool operator==(const FuncType&, const FuncType&) = default;
};

// The body of one function, built instruction by instruction.
class Code {
 public:
  // Declares a local of `type` after the parameters; returns its index.
  uint32_t AddLocal(ValType type, uint32_t num_params);

  Code& Op(Opcode op) { bytes_.push_back(static_cast<uint8_t>(op)); return *this; }
  Code& OpIndex(Opcode op, uint32_t index) { Op(op); AppendU32(bytes_, index); return *this; }
  Code& I32(int32_t v) { Op(Opcode::kI32Const); AppendS64(bytes_, v); return *this; }
  Code& I64(int64_t v) { Op(Opcode::kI64Const); AppendS64(bytes_, v); return *this; }
  Code& Get(uint32_t local) { return OpIndex(Opcode::kLocalGet, local); }
  Code& Set(uint32_t local) { return OpIndex(Opcode::kLocalSet, local); }
  Code& Tee(uint32_t local) { return OpIndex(Opcode::kLocalTee, local); }
  Code& GlobalGet(uint32_t global) { return OpIndex(Opcode::kGlobalGet, global); }
  Code& GlobalSet(uint32_t global) { return OpIndex(Opcode::kGlobalSet, global); }
  Code& Call(uint32_t func) { return OpIndex(Opcode::kCall, func); }
  // block / loop / if with no result, or with one i32 result.
  Code& Begin(Opcode op, bool i32_result = false) {
    Op(op);
    bytes_.push_back(i32_result ? static_cast<uint8_t>(ValType::kI32) : kBlockVoid);
    return *this;
  }

  static void AppendU32(std::vector<uint8_t>& out, uint64_t v);  // unsigned LEB128
  static void AppendS64(std::vector<uint8_t>& out, int64_t v);   // signed LEB128

 private:
  friend class ModuleWriter;
  std::vector<ValType> locals_;
  std::vector<uint8_t> bytes_;
};

class ModuleWriter {
 public:
  uint32_t AddType(const FuncType& type);  // deduplicated
  // Imports must all be added before the first function.
  uint32_t AddImport(std::string_view module, std::string_view name, const FuncType& type);
  uint32_t AddFunction(const FuncType& type, Code code);
  // A global with a constant initial value.
  uint32_t AddGlobal(ValType type, bool mutable_, int64_t init);
  void ExportFunction(std::string_view name, uint32_t func) { exports_.push_back({std::string(name), 0, func}); }
  void ExportMemory(std::string_view name) { exports_.push_back({std::string(name), 2, 0}); }
  void ExportGlobal(std::string_view name, uint32_t global) { exports_.push_back({std::string(name), 3, global}); }
  void SetMemory(uint32_t min_pages) { memory_pages_ = min_pages; }
  // The memory (index 0) is imported as module.name with at least `min_pages` pages.
  void ImportMemory(std::string_view module, std::string_view name, uint32_t min_pages) {
    memory_import_ = {std::string(module), std::string(name), 0};
    memory_import_pages_ = min_pages;
  }
  // Bytes placed in memory at `offset` at instantiation.
  void SetData(uint32_t offset, std::vector<uint8_t> bytes) {
    data_offset_ = offset;
    data_ = std::move(bytes);
  }
  uint32_t num_imports() const { return static_cast<uint32_t>(imports_.size()); }

  std::vector<uint8_t> Finish() const;

 private:
  struct Import {
    std::string module, name;
    uint32_t type = 0;
  };
  struct Function {
    uint32_t type = 0;
    Code code;
  };
  struct Global {
    ValType type;
    bool mutable_;
    int64_t init;
  };
  struct Export {
    std::string name;
    uint8_t kind;
    uint32_t index;
  };
  std::vector<FuncType> types_;
  std::vector<Import> imports_;
  std::vector<Function> functions_;
  std::vector<Global> globals_;
  std::vector<Export> exports_;
  uint32_t memory_pages_ = 0;
  std::optional<Import> memory_import_;
  uint32_t memory_import_pages_ = 0;
  uint32_t data_offset_ = 0;
  std::vector<uint8_t> data_;
};

}  // namespace kestrel::runtime::wasm
