// Body of activation*.comp (x and y fp32 or fp16: common.glsl's XT / YT).
// y[i] = act(x[i]) for i < total, elementwise (Backend::activation): act 0 none, 1 GELU (exact
// erf), 2 GELU (tanh approximation), 3 QuickGELU; act 0 between fp32 and fp16 converts — the functions of linear's epilogue
// (common.glsl). x may be y (in place: each invocation reads its element before writing it).
// Over the binding limit a dispatch covers a chunk; x_off / y_off: first float of the chunk in
// each binding.

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Buf0 { XT x_[]; };
layout(std430, binding = 1) buffer Buf1 { YT y_[]; };

layout(push_constant, std430) uniform Push {
  uint total, act, x_off, y_off;
} pc;

void main() {
  const uint idx = gl_GlobalInvocationID.x;
  if (idx >= pc.total) return;
  float v = float(x_[pc.x_off + idx]);
  if (pc.act == 1u) v = gelu_erf(v);
  else if (pc.act == 2u) v = gelu_tanh(v);
  else if (pc.act == 3u) v = quick_gelu(v);
  y_[pc.y_off + idx] = YT(v);
}
