#!/bin/sh
# Debian/Ubuntu packages the Vulkan backend needs to build (headers, glslc) and to run and test on
# the CPU (lavapipe driver, loader, Khronos validation layer; vulkaninfo for diagnosis).
set -eu
apt-get update
apt-get install -y --no-install-recommends libvulkan-dev libvulkan1 glslc mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
