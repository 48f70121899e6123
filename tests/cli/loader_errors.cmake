# Loader errors found by the adversarial campaign of issue 16 (data: tests/data/bad/make_loader_cases.py).
# Each is one clear error line before any output is written, never NaN outputs or a huge allocation.
cli_error(config_field_type "radio-embed: error: .*config.json: field 'max_resolution': expected an integer, got the string \"128\""
  --model ${bad}/typed-config --input ${data}/A/input_sq128.npy --summary ${out}/s.npy --features ${out}/f.npy)
