// Fused attention with fp16 products, fp32 sums and statistics, fp16 output: see attention.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define VIT_F16 1
#define VIT_Y16 1
#include "common.glsl"
#include "attention.glsl"
