// Internal to src/eql (not included outside it): lowering of AST expressions to IR programs,
// checked against a SchemaRegistry: fields (with a did-you-mean), builtin functions and their
// arity, patterns, regular expressions and comparisons of typed fields with literals.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "eql/compiler.h"

namespace kestrel::eql {

class Lowerer {
 public:
  Lowerer(const SchemaRegistry& registry, const CompileOptions& options, std::vector<Diagnostic>& diagnostics,
          std::vector<CompiledLineage>* lineage)
      : registry_(registry), options_(options), diagnostics_(diagnostics), lineage_(lineage) {}

  // A boolean program for an event query (category + condition).
  bool LowerEventQuery(const EventQuery& q, Program& program);

  // A value program for one expression (join keys, pipe arguments).
  bool LowerExpression(const Expr& e, Program& program);

 private:
  bool Fail(Span span, std::string message);
  uint32_t Add(IrNode node);
  uint32_t AddConst(const Scalar& value, Span span);
  bool IsConst(uint32_t id) const;
  uint32_t Fold(uint32_t id);
  std::optional<uint32_t> Lower(const Expr& e);
  std::optional<uint32_t> LowerField(const Expr& e);
  bool IsNullLiteral(const Expr& x) const;
  std::optional<uint32_t> LowerBinary(const Expr& e);
  bool CheckComparable(uint32_t field_node, uint32_t literal_node, Span span);
  static std::string PrintNodeValue(const Scalar& v);
  std::optional<uint32_t> LowerPythonEquality(const Expr& e, uint32_t a, uint32_t b);
  std::optional<uint32_t> LowerMatch(const Expr& e);
  std::optional<uint32_t> LowerIn(const Expr& e, uint32_t value);
  std::optional<uint32_t> LowerCall(const Expr& e);

  const SchemaRegistry& registry_;
  const CompileOptions& options_;
  std::vector<Diagnostic>& diagnostics_;
  std::vector<CompiledLineage>* lineage_;
  std::vector<std::string> scope_;  // variables of enclosing arraySearch / arrayCount
  Program* program_ = nullptr;
};

}  // namespace kestrel::eql
