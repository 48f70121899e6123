// Elementwise activation, x fp32, y fp16: see activation.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define VIT_Y16 1
#include "common.glsl"
#include "activation.glsl"
