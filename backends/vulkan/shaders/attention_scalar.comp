// Scalar attention (head dim % 4 != 0), fp32 tensors: see attention_scalar.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "attention_scalar.glsl"
