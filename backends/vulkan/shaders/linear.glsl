// Body of linear.comp (fp32) and linear_f16.comp (VIT_F16: products in fp16, W stored as fp16
// texels, sums over k in fp32).
// y[M,N] = (accumulate ? y : 0) + act(x[M,K] W^T + b). Register-blocked, no shared memory, no
// barriers. A workgroup is one subgroup of LX lanes (spec constant 0) and computes a TM x (LX*TN)
// tile: lane l owns columns n0 + l + j*LX (j < TN) of rows m0 .. m0+TM-1.
// Both operands are read through uniform texel buffers: on lavapipe (llvmpipe 22.3) texelFetch is a
// branch-free vector gather, while an SSBO load is a scalar loop over the SIMD lanes and
// subgroupBroadcast a loop over the exec mask. W is packed at make_linear as [N][K4] vec4 texels
// (K zero-padded to 4*K4); every lane reads the same x values (X4 = 1: one vec4 texel per row and
// 4 values of k, needs K % 4 == 0; X4 = 0: one float per texel, any K).
// Over the binding limit the host splits rows of x/y and rows of W (columns of y) into chunks:
// this dispatch computes NC columns n0 .. n0+NC-1 of M rows (offsets: first texel/float of the
// chunk inside each binding; y's row stride stays N).
// The k loop runs K4 times; its body is unrolled (llvmpipe stops a loop nest after 65535
// iterations in total).

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TM = 8;
layout(constant_id = 2) const uint TN = 4;
layout(constant_id = 3) const uint X4 = 1;  // x read as vec4 texels (K % 4 == 0)

layout(std430, binding = 2) readonly buffer Buf2 { float bias_[]; };
layout(std430, binding = 3) buffer Buf3 { YT y_[]; };
layout(binding = 4) uniform samplerBuffer x_;  // [M*K] floats, or [M*K/4] vec4 when X4
layout(binding = 5) uniform samplerBuffer w_;  // [N*K4] vec4

layout(push_constant, std430) uniform Push {
  uint M, K, N, flags;  // flags: 1 bias, 2 gelu, 4 accumulate, 8 gelu_tanh, 16 quick_gelu
  uint K4;              // packed row length of W in vec4
  uint x_off, y_off;    // first texel of x / first float of y inside their bindings (row chunks)
  uint NC, n0, w_off, b_off;  // columns in this dispatch, the first one, W's first texel, bias' first float
} pc;

void main() {
  const uint LX = gl_WorkGroupSize.x;
  const uint lane = gl_LocalInvocationID.x;
  const uint n0 = gl_WorkGroupID.x * LX * TN + lane;
  const uint m0 = gl_WorkGroupID.y * TM;
  const uint K = pc.K, N = pc.N, NC = pc.NC, K4 = pc.K4;

  int xrow[TM];
  [[unroll]] for (uint i = 0; i < TM; ++i) xrow[i] = int(pc.x_off + min(m0 + i, pc.M - 1) * (X4 != 0 ? K / 4 : K));
  int wrow[TN];
  [[unroll]] for (uint j = 0; j < TN; ++j) wrow[j] = int(pc.w_off + min(n0 + j * LX, NC - 1) * K4);

  float acc[TM][TN];
  [[unroll]] for (uint i = 0; i < TM; ++i)
    [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] = 0.0;

  for (uint t = 0; t < K4; ++t) {
    vec4 x[TM];
    if (X4 != 0) {
      [[unroll]] for (uint i = 0; i < TM; ++i) x[i] = texelFetch(x_, xrow[i] + int(t));
    } else {  // past K: x is 0 (W is zero-padded too)
      [[unroll]] for (uint i = 0; i < TM; ++i)
        [[unroll]] for (uint c = 0; c < 4; ++c) {
          const uint k = 4 * t + c;
          x[i][c] = k < K ? texelFetch(x_, xrow[i] + int(min(k, K - 1))).x : 0.0;
        }
    }
    vec4 w[TN];
    [[unroll]] for (uint j = 0; j < TN; ++j) w[j] = texelFetch(w_, wrow[j] + int(t));
#if VIT_F16  // products of fp16 values (4 per dot), accumulated over k in fp32
    f16vec4 xh[TM], wh[TN];
    [[unroll]] for (uint i = 0; i < TM; ++i) xh[i] = f16vec4(x[i]);
    [[unroll]] for (uint j = 0; j < TN; ++j) wh[j] = f16vec4(w[j]);
    [[unroll]] for (uint i = 0; i < TM; ++i)
      [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] += float(dot(xh[i], wh[j]));
#else
    [[unroll]] for (uint c = 0; c < 4; ++c)
      [[unroll]] for (uint i = 0; i < TM; ++i)
        [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] = fma(x[i][c], w[j][c], acc[i][j]);
#endif
  }

  [[unroll]] for (uint j = 0; j < TN; ++j) {
    const uint n = n0 + j * LX;
    if (n >= NC) continue;
    const float b = (pc.flags & 1u) != 0u ? bias_[pc.b_off + n] : 0.0;
    [[unroll]] for (uint i = 0; i < TM; ++i) {
      const uint m = m0 + i;
      if (m >= pc.M) continue;
      float v = acc[i][j] + b;
      if ((pc.flags & 2u) != 0u) v = gelu_erf(v);
      else if ((pc.flags & 8u) != 0u) v = gelu_tanh(v);
      else if ((pc.flags & 16u) != 0u) v = quick_gelu(v);
      const uint o = pc.y_off + m * N + pc.n0 + n;
      if ((pc.flags & 4u) != 0u) v += float(y_[o]);
      y_[o] = YT(v);
    }
  }
}
