// Fused multi-head attention, flash style: out[b,i,h*HD:(h+1)*HD] = softmax(q k^T * scale) v for
// qkv [B,N,3D] (rows q | k | v, head-major), HD and D multiples of 4. Each invocation owns QT
// queries (q and the output accumulators live in registers) and streams the keys in blocks of BK
// with an online softmax: no [heads,N,N] buffer. Grid: (query blocks, heads, batch).
// qkv is read as vec4 texels of a uniform texel buffer: every lane fetches the same key/value
// rows, a branch-free gather on lavapipe (SSBO loads there are a scalar loop over the lanes).
// Inner loops are unrolled: llvmpipe stops any loop after 65535 iterations counted over its
// nesting; the key loop runs N/BK times.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint BK = 4;
layout(constant_id = 3) const uint QT = 2;
const uint H4 = HD / 4;

layout(std430, binding = 1) buffer Buf1 { float o_[]; };
layout(binding = 4) uniform samplerBuffer qkv_;  // [B*N*3D/4] vec4

layout(push_constant, std430) uniform Push {
  uint N, D; float scale;
} pc;

void main() {
  const uint LX = gl_WorkGroupSize.x;
  const uint N = pc.N, D4 = pc.D / 4, row4 = 3 * D4;
  const uint head = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const uint q0 = gl_WorkGroupID.x * LX * QT + gl_LocalInvocationID.x;
  const int kbase = int(b * N * row4 + D4 + head * H4);
  const int vbase = kbase + int(D4);

  vec4 qv[QT][H4];
  vec4 acc[QT][H4];
  float m[QT], l[QT];
  [[unroll]] for (uint i = 0; i < QT; ++i) {
    const int qb = int((b * N + min(q0 + i * LX, N - 1)) * row4 + head * H4);
    [[unroll]] for (uint t = 0; t < H4; ++t) {
      qv[i][t] = texelFetch(qkv_, qb + int(t)) * pc.scale;
      acc[i][t] = vec4(0.0);
    }
    m[i] = NEG_INF;
    l[i] = 0.0;
  }
  for (uint j0 = 0; j0 < N; j0 += BK) {
    float s[QT][BK];
    [[unroll]] for (uint u = 0; u < BK; ++u) {
      const int kb = kbase + int(min(j0 + u, N - 1) * row4);
      [[unroll]] for (uint i = 0; i < QT; ++i) s[i][u] = 0.0;
      [[unroll]] for (uint t = 0; t < H4; ++t) {
        const vec4 kv = texelFetch(qkv_, kb + int(t));
        [[unroll]] for (uint i = 0; i < QT; ++i) s[i][u] += dot(qv[i][t], kv);
      }
      if (j0 + u >= N) [[unroll]] for (uint i = 0; i < QT; ++i) s[i][u] = NEG_INF;
    }
    float p[QT][BK];
    [[unroll]] for (uint i = 0; i < QT; ++i) {
      float mn = m[i];
      [[unroll]] for (uint u = 0; u < BK; ++u) mn = max(mn, s[i][u]);
      const float corr = exp(m[i] - mn);
      l[i] *= corr;
      [[unroll]] for (uint t = 0; t < H4; ++t) acc[i][t] *= corr;
      [[unroll]] for (uint u = 0; u < BK; ++u) {
        p[i][u] = exp(s[i][u] - mn);
        l[i] += p[i][u];
      }
      m[i] = mn;
    }
    [[unroll]] for (uint u = 0; u < BK; ++u) {
      const int vb = vbase + int(min(j0 + u, N - 1) * row4);
      [[unroll]] for (uint t = 0; t < H4; ++t) {
        const vec4 vv = texelFetch(qkv_, vb + int(t));
        [[unroll]] for (uint i = 0; i < QT; ++i) acc[i][t] += p[i][u] * vv;
      }
    }
  }
  [[unroll]] for (uint i = 0; i < QT; ++i) {
    const uint q = q0 + i * LX;
    if (q >= N) continue;
    const uint ob = (b * N + q) * pc.D + head * HD;
    const float inv = 1.0 / l[i];
    [[unroll]] for (uint t = 0; t < H4; ++t)
      [[unroll]] for (uint c = 0; c < 4; ++c) o_[ob + 4 * t + c] = acc[i][t][c] * inv;
  }
}
