// Body of attention.comp (fp32) and attention_f16.comp (VIT_F16: q.k and p*v products in fp16,
// sums over the head dim and the keys, and the softmax statistics, in fp32).
// Fused multi-head attention, flash style: out[b,i,h*HD:(h+1)*HD] = softmax(q k^T * scale) v for
// qkv [B,N,3D] (rows q | k | v, head-major), HD and D multiples of 4. Each invocation owns QT
// queries (q and the output accumulators live in registers) and streams the keys in blocks of BK
// with an online softmax: no [heads,N,N] buffer. Grid: (query blocks, heads, batch elements).
// qkv is read as vec4 texels of a uniform texel buffer: every lane fetches the same key/value
// rows, a branch-free gather on lavapipe (SSBO loads there are a scalar loop over the lanes).
// Inner loops are unrolled: llvmpipe stops any loop after 65535 iterations counted over its
// nesting; the key loop runs N/BK times.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint BK = 4;
layout(constant_id = 3) const uint QT = 2;
const uint H4 = HD / 4;

layout(std430, binding = 1) buffer Buf1 { YT o_[]; };
layout(std430, binding = 2) buffer Buf2 { float state_[]; };  // [queries, heads, 2]: running max, sum
layout(binding = 4) uniform samplerBuffer q_;   // qkv rows of the queries, vec4 texels
layout(binding = 5) uniform samplerBuffer kv_;  // qkv rows of the keys/values, vec4 texels

// One dispatch: NQ queries against NK keys per batch element. Over the binding limit, queries
// and keys are chunked: flags 1 = first key chunk (start the softmax), 2 = last (normalise);
// between chunks the unnormalised output stays in out and the max/sum in state (out is fp32 then:
// the host runs an fp16 output's chunked attention into an fp32 scratch).
layout(push_constant, std430) uniform Push {
  uint NQ, NK, D; float scale;
  uint q_off, kv_off, o_off, s_off;  // first texel / float of the chunk inside each binding
  uint flags, heads;
} pc;

void main() {
  const uint LX = gl_WorkGroupSize.x;
  const uint NQ = pc.NQ, NK = pc.NK, D4 = pc.D / 4, row4 = 3 * D4;
  const uint head = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const uint q0 = gl_WorkGroupID.x * LX * QT + gl_LocalInvocationID.x;
  const int kbase = int(pc.kv_off + b * NK * row4 + D4 + head * H4);
  const int vbase = kbase + int(D4);
  const bool first = (pc.flags & 1u) != 0u, last = (pc.flags & 2u) != 0u;

  vec4 qv[QT][H4];
  vec4 acc[QT][H4];
  float m[QT], l[QT];
  [[unroll]] for (uint i = 0; i < QT; ++i) {
    const uint q = min(q0 + i * LX, NQ - 1);
    const int qb = int(pc.q_off + (b * NQ + q) * row4 + head * H4);
    const uint ob = pc.o_off + (b * NQ + q) * pc.D + head * HD, sb = pc.s_off + ((b * NQ + q) * pc.heads + head) * 2;
    [[unroll]] for (uint t = 0; t < H4; ++t) {
      qv[i][t] = texelFetch(q_, qb + int(t)) * pc.scale;
      acc[i][t] = first ? vec4(0.0) : vec4(float(o_[ob + 4 * t]), float(o_[ob + 4 * t + 1]), float(o_[ob + 4 * t + 2]), float(o_[ob + 4 * t + 3]));
    }
    m[i] = first ? NEG_INF : state_[sb];
    l[i] = first ? 0.0 : state_[sb + 1];
  }
  for (uint j0 = 0; j0 < NK; j0 += BK) {
    float s[QT][BK];
    [[unroll]] for (uint u = 0; u < BK; ++u) {
      const int kb = kbase + int(min(j0 + u, NK - 1) * row4);
      [[unroll]] for (uint i = 0; i < QT; ++i) s[i][u] = 0.0;
      [[unroll]] for (uint t = 0; t < H4; ++t) {
        const vec4 kv = texelFetch(kv_, kb + int(t));
#if VIT_F16
        const f16vec4 kh = f16vec4(kv);
        [[unroll]] for (uint i = 0; i < QT; ++i) s[i][u] += float(dot(f16vec4(qv[i][t]), kh));
#else
        [[unroll]] for (uint i = 0; i < QT; ++i) s[i][u] += dot(qv[i][t], kv);
#endif
      }
      if (j0 + u >= NK) [[unroll]] for (uint i = 0; i < QT; ++i) s[i][u] = NEG_INF;
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
      const int vb = vbase + int(min(j0 + u, NK - 1) * row4);
      [[unroll]] for (uint t = 0; t < H4; ++t) {
        const vec4 vv = texelFetch(kv_, vb + int(t));
#if VIT_F16
        const f16vec4 vh = f16vec4(vv);
        [[unroll]] for (uint i = 0; i < QT; ++i) acc[i][t] += vec4(float16_t(p[i][u]) * vh);
#else
        [[unroll]] for (uint i = 0; i < QT; ++i) acc[i][t] += p[i][u] * vv;
#endif
      }
    }
  }
  [[unroll]] for (uint i = 0; i < QT; ++i) {
    const uint q = q0 + i * LX;
    if (q >= NQ) continue;
    const uint ob = pc.o_off + (b * NQ + q) * pc.D + head * HD;
    const float inv = last ? 1.0 / l[i] : 1.0;
    [[unroll]] for (uint t = 0; t < H4; ++t)
      [[unroll]] for (uint c = 0; c < 4; ++c) o_[ob + 4 * t + c] = YT(acc[i][t][c] * inv);
    if (!last) {
      const uint sb = pc.s_off + ((b * NQ + q) * pc.heads + head) * 2;
      state_[sb] = m[i];
      state_[sb + 1] = l[i];
    }
  }
}
