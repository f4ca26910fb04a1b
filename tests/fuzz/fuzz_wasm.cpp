// libFuzzer target: the loader of user-written Wasm predicates (docs/host-api.md) on arbitrary
// bytes: validation, the preparation that bounds memory and meters fuel, instantiation with Host
// API v1, pred_init, then a few evaluations with a small budget. Nothing may crash, leak or read
// outside the module's memory; a module that loads must evaluate to a verdict.
#include <cstddef>
#include <cstdint>
#include <span>

#include "event/event_batch.h"
#include "event/event_builder.h"
#include "event/ip_address.h"
#include "runtime/wasm_runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kestrel;
  static SchemaRegistry* registry = new SchemaRegistry(SchemaRegistry::WithEcs());
  static EventBatch* batch = new EventBatch();
  static Event event = [] {
    EventBuilder b(&batch->arena());
    b.Start();
    b.header().type = *registry->InternEventType("process");
    b.Set(*registry->Find("process.name"), b.StringValue("bash"));
    Value args[] = {b.StringValue("-c"), b.StringValue("id"), Value::I64(7)};
    Value* stored = batch->arena().AllocateArray<Value>(3);
    std::copy(std::begin(args), std::end(args), stored);
    b.Set(*registry->Find("process.args"), Value::Array({stored, 3}));
    b.Set(*registry->Find("destination.ip"), b.IpValue(*ParseIp("10.1.2.3")));
    return b.Finish();
  }();
  auto pred = runtime::WasmPredicate::Load(std::span<const uint8_t>(data, size), "fuzz.wasm", *registry,
                                           runtime::Trust::kUser);
  if (!pred) return 0;
  for (int i = 0; i < 3; ++i) {
    runtime::Verdict v = (*pred)->Eval(event, 20'000);
    if (static_cast<int>(v) > static_cast<int>(runtime::Verdict::kFault)) __builtin_trap();
  }
  return 0;
}
