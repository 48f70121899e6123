// h[B,S+T,D]: h[b,i] = prefix[i] for i < S, patches[b*T + i-S] + pos[i-S] otherwise.
// Over the binding limit, a dispatch covers a chunk of prefix rows (T = 0) or of patch rows
// (S = 0) of one batch element; *_off: first float of the chunk in each binding.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Buf0 { float prefix_[]; };
layout(std430, binding = 1) buffer Buf1 { float patches_[]; };
layout(std430, binding = 2) buffer Buf2 { float pos_[]; };
layout(std430, binding = 3) buffer Buf3 { float h_[]; };

layout(push_constant, std430) uniform Push {
  uint S, T, D, total;
  uint prefix_off, patches_off, pos_off, h_off;
} pc;

void main() {
  const uint idx = gl_GlobalInvocationID.x;
  if (idx >= pc.total) return;
  const uint D = pc.D, k = idx % D, tok = idx / D, n = pc.S + pc.T, b = tok / n, i = tok % n;
  if (i < pc.S) {
    h_[pc.h_off + idx] = prefix_[pc.prefix_off + i * D + k];
  } else {
    const uint t = i - pc.S;
    h_[pc.h_off + idx] = patches_[pc.patches_off + (b * pc.T + t) * D + k] + pos_[pc.pos_off + t * D + k];
  }
}
