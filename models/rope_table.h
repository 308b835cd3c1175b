// RoPE cos/sin tables: [max_pos, rotary_dim] f32, row p = cos(p*f_i) (i < R/2) then
// sin(p*f_i), with the config's rope scaling (linear, llama3) baked into f_i / p.
#pragma once

#include <vector>

#include "models/config.h"

namespace radix {

// Inverse frequencies f_i for i < rotary_dim/2, scaling applied (HF semantics).
std::vector<float> rope_inv_freq(int rotary_dim, float theta, const RopeScaling& scaling);
std::vector<float> build_rope_table(int max_pos, int rotary_dim, float theta,
                                    const RopeScaling& scaling);

}  // namespace radix
