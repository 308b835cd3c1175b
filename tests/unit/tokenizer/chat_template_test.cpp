// ChatTemplate: loading from tokenizer_config.json (string and named-list forms), .jinja
// files and directories, and the variables render() provides, as transformers does.
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace radix {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

class ChatTemplateFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("radix_chat_template_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  fs::path dir_;
};

const Json kOneUser = Json::array({{{"role", "user"}, {"content", "hi"}}});

TEST_F(ChatTemplateFiles, ReadsTheTemplateAndSpecialTokensFromTokenizerConfig) {
  const std::string path =
      write("tokenizer_config.json",
            Json{{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}}},
                 {"eos_token", "</s>"},
                 {"chat_template",
                  "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
                  "{% if add_generation_prompt %}>{% endif %}{{ eos_token }}"}}
                .dump());
  auto t = ChatTemplate::from_tokenizer_config(path);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(t->bos_token(), "<s>");
  EXPECT_EQ(t->eos_token(), "</s>");
  auto r = t->render(kOneUser, true, t->bos_token(), t->eos_token());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, "<s>[user:hi]></s>");
  // The directory form finds the same file.
  auto from_dir = ChatTemplate::from_tokenizer_config(dir_.string());
  ASSERT_TRUE(from_dir.is_ok());
  EXPECT_EQ(*from_dir->render(kOneUser, false, "", ""), "[user:hi]");
}

TEST_F(ChatTemplateFiles, NamedTemplateListUsesDefault) {
  const std::string path =
      write("tokenizer_config.json",
            Json{{"chat_template",
                  Json::array({{{"name", "tool_use"}, {"template", "T"}},
                               {{"name", "default"}, {"template", "D{{ messages | length }}"}}})}}
                .dump());
  auto t = ChatTemplate::from_tokenizer_config(path);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(*t->render(kOneUser, false, "", ""), "D1");
  // With tools, transformers picks the template named "tool_use".
  const nlohmann::ordered_json tools = {{"tools", nlohmann::ordered_json::array({{{"type", "function"}}})}};
  EXPECT_EQ(*t->render(kOneUser, false, "", "", tools), "T");
  EXPECT_EQ(*t->render(kOneUser, false, "", "", {{"tools", nullptr}}), "D1");

  write("tokenizer_config.json",
        Json{{"chat_template", Json::array({{{"name", "rag"}, {"template", "R"}}})}}.dump());
  auto none = ChatTemplate::from_tokenizer_config(path);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("has: rag"), std::string::npos);
}

TEST_F(ChatTemplateFiles, JinjaFileWinsInADirectoryAndOverrideKeepsConfigTokens) {
  write("tokenizer_config.json", Json{{"bos_token", "<B>"}, {"chat_template", "config"}}.dump());
  write("chat_template.jinja", "jinja {{ bos_token }}\n");
  auto t = ChatTemplate::from_tokenizer_config(dir_.string());
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(*t->render(kOneUser, false, t->bos_token(), ""), "jinja <B>");

  const std::string other = write("other.jinja", "other {{ bos_token }}");
  auto o = ChatTemplate::from_tokenizer_config((dir_ / "tokenizer_config.json").string(), other);
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_EQ(*o->render(kOneUser, false, o->bos_token(), ""), "other <B>");
}

TEST_F(ChatTemplateFiles, MissingOrBrokenTemplatesAreClearErrors) {
  EXPECT_EQ(ChatTemplate::from_tokenizer_config((dir_ / "nope.json").string()).status().code(),
            StatusCode::kNotFound);
  const std::string no_template = write("tokenizer_config.json", "{\"bos_token\": \"<s>\"}");
  auto missing = ChatTemplate::from_tokenizer_config(no_template);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("has no chat_template"), std::string::npos);

  write("tokenizer_config.json", "{not json");
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(no_template).status().code(),
            StatusCode::kInvalidArgument);

  write("tokenizer_config.json", Json{{"chat_template", "ok\n{% for m in messages %}"}}.dump());
  auto broken = ChatTemplate::from_tokenizer_config(no_template);
  ASSERT_FALSE(broken.is_ok());
  EXPECT_NE(broken.status().message().find("tokenizer_config.json"), std::string::npos);
  EXPECT_NE(broken.status().message().find("line 2, column 1"), std::string::npos)
      << broken.status().message();
}

TEST(ChatTemplate, RenderProvidesTransformersVariables) {
  auto t = ChatTemplate::parse(
      "{{ tools is none }} {{ documents is none }} {{ bos_token is defined }} {{ eos_token }} "
      "{{ add_generation_prompt }} {{ enable_thinking | default('unset') }}");
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(*t->render(kOneUser, false, "", "</s>"), "True True False </s> False unset");
  auto with_extra =
      t->render(kOneUser, true, "<s>", "</s>",
                Json{{"tools", Json::array({{{"name", "f"}}})}, {"enable_thinking", false}});
  ASSERT_TRUE(with_extra.is_ok());
  EXPECT_EQ(*with_extra, "False True True </s> True False");
}

TEST(ChatTemplate, RenderErrorsAreStatuses) {
  auto t = ChatTemplate::parse(
      "{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif "
      "%}ok");
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(*t->render(kOneUser, false, "", ""), "ok");
  auto bad = t->render(Json::array({{{"role", "system"}, {"content", "x"}}}), false, "", "");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("first must be user"), std::string::npos);
  EXPECT_FALSE(t->render(Json::object(), false, "", "").is_ok());  // messages must be an array

  Json deep = "leaf";
  for (int i = 0; i < 1000; ++i) deep = Json::array({deep});
  auto too_deep = t->render(Json::array({{{"role", "user"}, {"content", deep}}}), false, "", "");
  ASSERT_FALSE(too_deep.is_ok());
  EXPECT_NE(too_deep.status().message().find("nested too deeply"), std::string::npos);
}

TEST(ChatTemplate, StructuredContentReachesTheTemplate) {
  auto t = ChatTemplate::parse(
      "{% for m in messages %}{% for p in m.content %}{{ p.type }}:{{ p.text | default('') }};{% "
      "endfor %}"
      "{% for c in m.tool_calls | default([]) %}{{ c.function.name }}({{ c.function.arguments | "
      "tojson }})"
      "{% endfor %}{% endfor %}");
  ASSERT_TRUE(t.is_ok());
  const Json messages = Json::parse(R"([
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what?"}]},
    {"role": "assistant", "content": [], "tool_calls": [
      {"type": "function", "function": {"name": "f", "arguments": {"z": 1, "a": [true, null]}}}]}
  ])");
  EXPECT_EQ(*t->render(messages, false, "", ""),
            "image:;text:what?;f({\"z\": 1, \"a\": [true, null]})");
}

}  // namespace
}  // namespace radix
