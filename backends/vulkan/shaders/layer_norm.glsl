// Body of layer_norm*.comp (x and y fp32 or fp16: common.glsl's XT / YT; statistics in fp32).
// y[M,D] = (x - mean) / sqrt(var + eps) * g + b per row (biased variance, two passes).
// One workgroup per row, sized to the subgroup (spec constant 0), reduced with subgroupAdd; if a
// device runs a workgroup as several subgroups, the partial sums meet in shared memory.

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Buf0 { XT x_[]; };
layout(std430, binding = 1) buffer Buf1 { float g_[]; };
layout(std430, binding = 2) buffer Buf2 { float b_[]; };
layout(std430, binding = 3) buffer Buf3 { YT y_[]; };

layout(push_constant, std430) uniform Push {
  uint M, D; float eps;
  uint x_off, y_off;  // first float of x / y inside their bindings (row chunks)
} pc;

shared float partial[64];

float row_sum(float v) {
  v = subgroupAdd(v);
  if (gl_NumSubgroups == 1) return v;
  if (subgroupElect()) partial[gl_SubgroupID] = v;
  barrier();
  float t = 0.0;
  for (uint i = 0; i < gl_NumSubgroups; ++i) t += partial[i];
  barrier();
  return t;
}

void main() {
  const uint LX = gl_WorkGroupSize.x;
  const uint row = gl_WorkGroupID.x;
  if (row >= pc.M) return;
  const uint D = pc.D, base = pc.x_off + row * D, ybase = pc.y_off + row * D, lid = gl_LocalInvocationID.x;
  float s = 0.0;
  for (uint k = lid; k < D; k += LX) s += float(x_[base + k]);
  const float mean = row_sum(s) / float(D);
  float q = 0.0;
  for (uint k = lid; k < D; k += LX) {
    float d = float(x_[base + k]) - mean;
    q = fma(d, d, q);
  }
  const float inv = 1.0 / sqrt(row_sum(q) / float(D) + pc.eps);
  for (uint k = lid; k < D; k += LX) y_[ybase + k] = YT((float(x_[base + k]) - mean) * inv * g_[k] + b_[k]);
}
