#include "models/rope_table.h"

#include <cmath>

namespace radix {

std::vector<float> rope_inv_freq(int rotary_dim, float theta, const RopeScaling& scaling) {
  const int half = rotary_dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) {
    // HF: 1 / theta^(arange(0, dim, 2) / dim), computed in float32 from int64 arange.
    inv[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(rotary_dim));
  }
  if (scaling.type == RopeScaling::Type::kLlama3) {
    // transformers' _compute_llama3_parameters.
    const float low_wavelen = scaling.original_max_position_embeddings / scaling.low_freq_factor;
    const float high_wavelen = scaling.original_max_position_embeddings / scaling.high_freq_factor;
    for (float& f : inv) {
      const float wavelen = 2.0f * static_cast<float>(M_PI) / f;
      if (wavelen > low_wavelen) {
        f = f / scaling.factor;
      } else if (wavelen >= high_wavelen) {
        const float smooth = (scaling.original_max_position_embeddings / wavelen - scaling.low_freq_factor) /
                             (scaling.high_freq_factor - scaling.low_freq_factor);
        f = (1.0f - smooth) * f / scaling.factor + smooth * f;
      }
    }
  } else if (scaling.type == RopeScaling::Type::kLinear) {
    for (float& f : inv) f /= scaling.factor;
  }
  return inv;
}

std::vector<float> build_rope_table(int max_pos, int rotary_dim, float theta,
                                    const RopeScaling& scaling) {
  const std::vector<float> inv = rope_inv_freq(rotary_dim, theta, scaling);
  const int half = rotary_dim / 2;
  std::vector<float> table(static_cast<size_t>(max_pos) * rotary_dim);
  for (int p = 0; p < max_pos; ++p) {
    for (int i = 0; i < half; ++i) {
      // HF multiplies in float32: freqs = position (f32) * inv_freq (f32).
      const float angle = static_cast<float>(p) * inv[i];
      table[static_cast<size_t>(p) * rotary_dim + i] = std::cos(angle);
      table[static_cast<size_t>(p) * rotary_dim + half + i] = std::sin(angle);
    }
  }
  return table;
}

}  // namespace radix
