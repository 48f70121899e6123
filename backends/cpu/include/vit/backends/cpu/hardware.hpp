// How many physical cores this process may run on: distinct (package, core) pairs among the CPUs
// of its affinity mask (Linux sysfs), so hyper-threads do not count twice. Falls back to the
// OpenMP processor count where the topology cannot be read.
#pragma once
#include <omp.h>

#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__linux__)
#include <sched.h>
#endif

namespace vit::cpu {

inline int hardware_cores() {
#if defined(__linux__)
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    std::set<std::pair<int, int>> cores;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &mask)) continue;
      const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      std::ifstream pkg(dir + "physical_package_id"), core(dir + "core_id");
      int p = -1, c = -1;
      if (!(pkg >> p) || !(core >> c)) return omp_get_num_procs();
      cores.emplace(p, c);
    }
    if (!cores.empty()) return int(cores.size());
  }
#endif
  return omp_get_num_procs();
}

}  // namespace vit::cpu
