// out[B*gh*gw, C*p*p]: patch (gy,gx) of image b -> row (b*gh+gy)*gw+gx, column c*p*p+ky*p+kx,
// value (img[b,c,gy*p+ky,gx*p+kx] - mean[c]) / std[c]. One element per invocation.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Buf0 { float img_[]; };
layout(std430, binding = 1) buffer Buf1 { float mean_[]; };
layout(std430, binding = 2) buffer Buf2 { float sd_[]; };
layout(std430, binding = 3) buffer Buf3 { float o_[]; };

layout(push_constant, std430) uniform Push {
  uint C, H, W, p, total;
} pc;

void main() {
  const uint idx = gl_GlobalInvocationID.x;
  if (idx >= pc.total) return;
  const uint p = pc.p, cols = pc.C * p * p, gw = pc.W / p, gh = pc.H / p;
  const uint r = idx / cols, col = idx % cols;
  const uint ch = col / (p * p), ky = (col / p) % p, kx = col % p;
  const uint b = r / (gh * gw), gy = (r / gw) % gh, gx = r % gw;
  const float v = img_[((b * pc.C + ch) * pc.H + gy * p + ky) * pc.W + gx * p + kx];
  o_[idx] = (v - mean_[ch]) / sd_[ch];
}
