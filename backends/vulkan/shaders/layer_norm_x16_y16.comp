// LayerNorm, x and y fp16: see layer_norm.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define VIT_X16 1
#define VIT_Y16 1
#include "common.glsl"
#include "layer_norm.glsl"
