// Scalar attention (head dim % 4 != 0), fp16 qkv and out, fp32 arithmetic: see attention_scalar.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define VIT_X16 1
#define VIT_Y16 1
#include "common.glsl"
#include "attention_scalar.glsl"
