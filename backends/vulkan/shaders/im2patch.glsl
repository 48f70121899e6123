// Body of im2patch*.comp (out fp32 or fp16: common.glsl's YT).
// out[B*gh*gw, C*p*p]: patch (gy,gx) of image b -> row (b*gh+gy)*gw+gx, column c*p*p+ky*p+kx,
// value (img[b,c,gy*p+ky,gx*p+kx] - mean[c]) / std[c]. One element per invocation.
// A dispatch covers channels c0 .. c0+CC-1 of GH patch rows: all of them (CC = C, GH = H/p), or,
// when the tensors are over the binding limit, one channel of a band of patch rows of one image
// (img and out bound at that band; img_off / o_off: first float of the band in its binding).

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Buf0 { float img_[]; };
layout(std430, binding = 1) buffer Buf1 { float mean_[]; };
layout(std430, binding = 2) buffer Buf2 { float sd_[]; };
layout(std430, binding = 3) buffer Buf3 { YT o_[]; };

layout(push_constant, std430) uniform Push {
  uint C, CC, c0, H, W, p, GH, total, img_off, o_off;
} pc;

void main() {
  const uint idx = gl_GlobalInvocationID.x;
  if (idx >= pc.total) return;
  const uint p = pc.p, cols = pc.CC * p * p, gw = pc.W / p;
  const uint r = idx / cols, col = idx % cols;
  const uint cl = col / (p * p), ky = (col / p) % p, kx = col % p, ch = pc.c0 + cl;
  const uint b = r / (pc.GH * gw), gy = (r / gw) % pc.GH, gx = r % gw;
  const float v = img_[pc.img_off + ((b * pc.CC + cl) * pc.H + gy * p + ky) * pc.W + gx * p + kx];
  o_[pc.o_off + r * pc.C * p * p + ch * p * p + ky * p + kx] = YT((v - mean_[ch]) / sd_[ch]);
}
