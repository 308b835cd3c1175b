// Route handlers, one function per endpoint, grouped by protocol in
// openai_routes.cpp, native_routes.cpp and info_routes.cpp. HttpServer registers them.
#pragma once

#include "server/route_support.h"

namespace radix::server {

// OpenAI
void handle_completions(Call& call);
void handle_chat_completions(Call& call);
void handle_models(Call& call);
void handle_model(Call& call, const std::string& id);

// SGLang native
void handle_generate(Call& call);

// Operations and utilities
void handle_health(Call& call);
void handle_health_generate(Call& call);
void handle_get_model_info(Call& call);
void handle_get_server_info(Call& call);
void handle_flush_cache(Call& call);
void handle_metrics(Call& call);
void handle_tokenize(Call& call);
void handle_detokenize(Call& call);

}  // namespace radix::server
