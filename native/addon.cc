#include <napi.h>
// Placeholder: replaced by the real addon.
Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }
NODE_API_MODULE(ctscope, Init)
