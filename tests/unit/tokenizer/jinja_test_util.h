// Helpers for the Jinja interpreter tests: render a template string with a JSON context.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "tokenizer/jinja/template.h"

namespace radix::jinja::testing {

inline Dict context_of(const nlohmann::ordered_json& vars) {
  Dict d;
  for (auto it = vars.begin(); it != vars.end(); ++it)
    d.set(it.key(), Value::from_json(it.value()));
  return d;
}

// Renders `source`; a parse or render error fails the test and returns "<error>".
inline std::string render(const std::string& source,
                          const nlohmann::ordered_json& vars = nlohmann::ordered_json::object()) {
  auto t = Template::parse(source);
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  if (!t.is_ok()) return "<error>";
  auto r = t->render(context_of(vars));
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : "<error>";
}

// The parse error of `source` ("" if it parses).
inline std::string parse_error(const std::string& source) {
  auto t = Template::parse(source);
  return t.is_ok() ? "" : t.status().message();
}

// The render error of `source` ("" if it renders; a parse error fails the test).
inline std::string render_error(
    const std::string& source,
    const nlohmann::ordered_json& vars = nlohmann::ordered_json::object(),
    const RenderLimits& limits = {}) {
  auto t = Template::parse(source);
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  if (!t.is_ok()) return "<parse error>";
  auto r = t->render(context_of(vars), limits);
  return r.is_ok() ? "" : r.status().message();
}

}  // namespace radix::jinja::testing
