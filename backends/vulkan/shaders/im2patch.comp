// im2patch, fp32 out: see im2patch.glsl.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "im2patch.glsl"
