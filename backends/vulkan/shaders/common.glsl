// Shared declarations for the vit Vulkan compute shaders. Tensors are storage buffers bound by
// push descriptors (binding i = the op's i-th tensor); shapes come in push constants.

// Element types of the tensor a shader reads (XT) and the one it writes (YT): float, or float16_t
// in the variants for fp16 tensors (a <name>_x16 / _y16 / _x16_y16.comp file sets VIT_X16 / VIT_Y16
// and enables GL_EXT_shader_16bit_storage). Reads widen with float(...), writes round with YT(...).
#if VIT_X16
#define XT float16_t
#else
#define XT float
#endif
#if VIT_Y16
#define YT float16_t
#else
#define YT float
#endif

#define NEG_INF uintBitsToFloat(0xff800000u)

// erfc(z) for z >= 0 (Numerical Recipes' Chebyshev fit, fractional error < 1.2e-7 everywhere).
float erfc_nonneg(float z) {
  float t = 1.0 / (1.0 + 0.5 * z);
  float poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
               t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(-z * z + poly);
}

// Exact GELU: x/2 (1 + erf(x / sqrt 2)) = x/2 erfc(-x / sqrt 2).
float gelu_erf(float x) {
  float z = x * 0.70710678118654752;
  return z >= 0.0 ? 0.5 * x * (2.0 - erfc_nonneg(z)) : 0.5 * x * erfc_nonneg(-z);
}

// tanh(u) = 1 - 2 / (exp(2u) + 1): exact to float rounding and finite for every u (tanh() itself
// may overflow to NaN for large |u| on some drivers).
float tanh_safe(float u) { return 1.0 - 2.0 / (exp(2.0 * u) + 1.0); }

// GELU, tanh approximation: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
float gelu_tanh(float x) { return 0.5 * x * (1.0 + tanh_safe(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

// QuickGELU: x sigmoid(1.702 x).
float quick_gelu(float x) { return x / (1.0 + exp(-1.702 * x)); }
