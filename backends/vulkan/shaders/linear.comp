// y = act(x W^T + b) in fp32: see linear.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#define VIT_F16 0
#include "common.glsl"
#include "linear.glsl"
