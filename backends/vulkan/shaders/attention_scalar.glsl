// Body of attention_scalar*.comp (qkv and out fp32, or both fp16: common.glsl's XT / YT; fp32 arithmetic).
// Fused multi-head attention for head dims that are not a multiple of 4 (attention.comp does the
// rest, much faster on lavapipe): out[b,i,h*HD:(h+1)*HD] = softmax(q k^T * scale) v for
// qkv [B,N,3D] (rows q | k | v, head-major). Scalar SSBO loads. One query per lane, keys streamed in blocks of BK
// with an online softmax: no [heads,N,N] buffer. Grid: (query blocks, heads, batch).
// Inner loops are unrolled: llvmpipe (lavapipe) stops any loop after 65535 iterations counted
// cumulatively over its nesting, which a 64-wide inner loop inside the key loop would hit.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint BK = 8;

layout(std430, binding = 0) buffer Buf0 { XT qkv_[]; };
layout(std430, binding = 1) buffer Buf1 { YT o_[]; };

layout(push_constant, std430) uniform Push {
  uint N, D; float scale;
  uint qkv_off, o_off;  // first float of qkv / out inside their bindings (per-batch chunks)
} pc;

void main() {
  const uint N = pc.N, D = pc.D, row = 3 * D;
  const uint q = gl_GlobalInvocationID.x, head = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const uint qbase = pc.qkv_off + (b * N + min(q, N - 1)) * row + head * HD;
  const uint kbase = pc.qkv_off + b * N * row + D + head * HD;

  float qv[HD];
  float acc[HD];
  [[unroll]] for (uint k = 0; k < HD; ++k) {
    qv[k] = float(qkv_[qbase + k]) * pc.scale;
    acc[k] = 0.0;
  }
  float m = NEG_INF, l = 0.0;
  for (uint j0 = 0; j0 < N; j0 += BK) {
    float s[BK];
    float bm = NEG_INF;
    [[unroll]] for (uint t = 0; t < BK; ++t) {
      s[t] = NEG_INF;
      if (j0 + t < N) {
        const uint kb = kbase + (j0 + t) * row;
        float d = 0.0;
        [[unroll]] for (uint k = 0; k < HD; ++k) d = fma(qv[k], float(qkv_[kb + k]), d);
        s[t] = d;
        bm = max(bm, d);
      }
    }
    const float mn = max(m, bm);
    const float corr = exp(m - mn);
    l *= corr;
    [[unroll]] for (uint k = 0; k < HD; ++k) acc[k] *= corr;
    [[unroll]] for (uint t = 0; t < BK; ++t) {
      if (j0 + t < N) {
        const float p = exp(s[t] - mn);
        l += p;
        const uint vb = kbase + D + (j0 + t) * row;
        [[unroll]] for (uint k = 0; k < HD; ++k) acc[k] = fma(p, float(qkv_[vb + k]), acc[k]);
      }
    }
    m = mn;
  }
  if (q >= N) return;
  const uint obase = pc.o_off + (b * N + q) * D + head * HD;
  const float inv = 1.0 / l;
  [[unroll]] for (uint k = 0; k < HD; ++k) o_[obase + k] = YT(acc[k] * inv);
}
