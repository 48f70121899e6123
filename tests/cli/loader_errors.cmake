# Loader errors found by the adversarial campaign of issue 16 (data: tests/data/bad/make_loader_cases.py).
# Each is one clear error line before any output is written, never NaN outputs or a huge allocation.
cli_error(nonfinite_weights "radio-embed: error: .*model.safetensors: tensor 'radio_model.model.patch_generator.embedder.weight' holds 3 non-finite values \\(NaN/Inf\\)"
  --model ${bad}/nan-weights --input ${data}/A/input_sq128.npy --summary ${out}/s.npy --features ${out}/f.npy)
cli_error(zero_norm_std "radio-embed: error: .*model.safetensors: tensor 'radio_model.input_conditioner.norm_std': entry 1 is 0, expected a positive finite value"
  --model ${bad}/zero-std --input ${data}/A/input_sq128.npy --summary ${out}/s.npy --features ${out}/f.npy)
cli_error(config_field_type "radio-embed: error: .*config.json: field 'max_resolution': expected an integer, got the string \"128\""
  --model ${bad}/typed-config --input ${data}/A/input_sq128.npy --summary ${out}/s.npy --features ${out}/f.npy)
cli_error(model_too_large "radio-embed: error: .*config.json: 206.3 G parameters \\(825.1 GB in fp32\\) exceed the limit of 4 G parameters"
  --model ${bad}/huge-config --input ${data}/A/input_sq128.npy --summary ${out}/s.npy --features ${out}/f.npy)
