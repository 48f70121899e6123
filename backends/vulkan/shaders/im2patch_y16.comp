// im2patch, fp16 out: see im2patch.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define VIT_Y16 1
#include "common.glsl"
#include "im2patch.glsl"
