# Image size limits, checked from the file's header before any decoding (include/vit/io/image.hpp
# read_image_header, examples/radio_embed/preprocess.hpp). The files in tests/data/bad/images/
# are headers only, without pixel data: had they been decoded, the error would be "corrupt image".
set(images ${PROJECT_SOURCE_DIR}/tests/data/bad/images)
# Beyond the model's max_resolution (128 for model A) at the size it would run at: refused.
cli_error(image_over_max_resolution_png
  "radio-embed: error: .*png-16384x16384-no-pixels.png: image is 16384x16384 \\(WxH\\) and would run at 16384x16384 \\(HxW\\), beyond the model's max_resolution 128"
  --model ${data}/A --input ${images}/png-16384x16384-no-pixels.png --summary ${out}/s.npy --features ${out}/f.npy)
cli_error(image_over_max_resolution_jpeg
  "radio-embed: error: .*jpeg-8000x6000-no-pixels.jpg: image is 8000x6000 \\(WxH\\) and would run at 6000x8000 \\(HxW\\), beyond the model's max_resolution 128"
  --model ${data}/A --input ${images}/jpeg-8000x6000-no-pixels.jpg --summary ${out}/s.npy)
cli_error(image_photo_over_max_resolution
  "radio-embed: error: .*png-6000x4000-no-pixels.png: image is 6000x4000 \\(WxH\\) and would run at 4000x6000 \\(HxW\\), beyond the model's max_resolution 128"
  --model ${data}/A --input ${images}/png-6000x4000-no-pixels.png --summary ${out}/s.npy)
# --allow-large lifts max_resolution but not the hard cap on pixels (vit::io::ImageLimits).
cli_error(image_over_pixel_cap
  "radio-embed: error: .*png-100000x100000-no-pixels.png: image is 100000x100000 \\(10000000000 pixels\\), expected at most 268435456 pixels"
  --model ${data}/A --input ${images}/png-100000x100000-no-pixels.png --summary ${out}/s.npy --allow-large)
cli_error(image_over_pixel_cap_jpeg
  "radio-embed: error: .*jpeg-65535x65535-no-pixels.jpg: image is 65535x65535 \\(4294836225 pixels\\), expected at most 268435456 pixels"
  --model ${data}/A --input ${images}/jpeg-65535x65535-no-pixels.jpg --summary ${out}/s.npy --allow-large)
# Resized down by --resolution, a large photo passes the size checks and is decoded (this one
# then fails as corrupt, having no pixel data).
cli_error(image_resized_down_is_decoded "radio-embed: error: .*png-6000x4000-no-pixels.png: corrupt image"
  --model ${data}/A --input ${images}/png-6000x4000-no-pixels.png --summary ${out}/s.npy --resolution 128x128)
