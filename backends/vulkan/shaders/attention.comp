// Fused multi-head attention in fp32: see attention.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#define VIT_F16 0
#include "common.glsl"
#include "attention.glsl"
