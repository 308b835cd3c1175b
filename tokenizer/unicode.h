// UTF-8 and Unicode helpers for the tokenizer: lossy UTF-8 repair (as Rust's
// String::from_utf8_lossy, which Hugging Face tokenizers uses), code point iteration,
// the character classes Rust's `char` methods define (the pre-tokenizers and added-token
// rules are written in terms of them), and normalization forms through utf8proc.
// Everything here is below the pipeline stages (normalizers, pre-tokenizers, decoders).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace radix::tok {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Replaces each maximal invalid subsequence with U+FFFD (Unicode "substitution of
// maximal subparts", the rule of Rust's from_utf8_lossy). Valid input is returned as is.
std::string utf8_lossy(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

// Decodes the code point starting at s[i] of VALID UTF-8 and returns its byte length.
size_t decode_utf8(std::string_view s, size_t i, char32_t* cp);
// Byte length of the UTF-8 sequence whose lead byte is `lead` (1 for stray bytes).
size_t utf8_len(unsigned char lead);
void append_utf8(std::string* out, char32_t cp);

// Rust char::is_whitespace (the White_Space property).
bool is_whitespace(char32_t c);
// Rust char::is_numeric (general categories Nd, Nl, No).
bool is_numeric(char32_t c);
// Rust char::is_alphanumeric, approximated as letters (L*) or numerics (N*).
bool is_alphanumeric(char32_t c);
// Unicode punctuation (P*), plus ASCII punctuation (Rust is_ascii_punctuation), as the
// Punctuation pre-tokenizer defines it.
bool is_punctuation(char32_t c);
// Regex \w in Rust's regex crate: letters, marks, decimal digits, connector punctuation,
// join controls.
bool is_word_char(char32_t c);

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };
// Normalizes valid UTF-8. Returns the input unchanged if utf8proc reports an error.
std::string normalize_form(std::string_view s, NormalForm form);
// Per-character full lowercase mapping (Rust char::to_lowercase).
std::string to_lowercase(std::string_view s);

}  // namespace radix::tok
