// Library version (kept equal to project(VERSION) in CMakeLists.txt).
#pragma once
#define VIT_VERSION_MAJOR 0
#define VIT_VERSION_MINOR 1
#define VIT_VERSION_PATCH 0
#define VIT_VERSION_STRING "0.1.0"
