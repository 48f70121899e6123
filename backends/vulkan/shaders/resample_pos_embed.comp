// out[gh*gw, D]: bilinear (align_corners=False, PyTorch's source-index formula in fp32) resize of
// pos [R,R,D] to m x m, m = max(gh,gw), then the top-left gh x gw crop. One element per invocation.
// A dispatch writes cells cell0 .. (out chunked by rows over the binding limit; o_off: first
// float of the chunk in its binding).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Buf0 { float pos_[]; };
layout(std430, binding = 1) buffer Buf1 { float o_[]; };

layout(push_constant, std430) uniform Push {
  uint R, D, gh, gw, total, cell0, o_off;
} pc;

void taps(uint o, out uint i0, out uint i1, out float w0, out float w1) {
  const uint m = max(pc.gh, pc.gw);
  precise float scale = float(pc.R) / float(m);
  precise float src = max(scale * (float(o) + 0.5) - 0.5, 0.0);
  i0 = min(uint(src), pc.R - 1);
  i1 = min(i0 + 1, pc.R - 1);
  w1 = clamp(src - float(i0), 0.0, 1.0);
  w0 = 1.0 - w1;
}

void main() {
  const uint idx = gl_GlobalInvocationID.x;
  if (idx >= pc.total) return;
  const uint D = pc.D, k = idx % D, cell = pc.cell0 + idx / D, y = cell / pc.gw, x = cell % pc.gw;
  uint y0, y1, x0, x1;
  float wy0, wy1, wx0, wx1;
  taps(y, y0, y1, wy0, wy1);
  taps(x, x0, x1, wx0, wx1);
  const uint R = pc.R;
  precise float top = pos_[(y0 * R + x0) * D + k] * wx0 + pos_[(y0 * R + x1) * D + k] * wx1;
  precise float bottom = pos_[(y1 * R + x0) * D + k] * wx0 + pos_[(y1 * R + x1) * D + k] * wx1;
  precise float v = top * wy0 + bottom * wy1;
  o_[pc.o_off + idx] = v;
}
