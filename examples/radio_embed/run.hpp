// radio-embed's work, written once for every backend: run<B>(backend, options).
//
// Three stages overlap (a thread each, joined by bounded queues):
//   decode + resize (prepare)  ->  forward (this thread, owns the backend)  ->  write outputs
// so that while batch k runs its forward, batch k+1 is being decoded and batch k-1 written.
// A failing input (unreadable, corrupt, wrong shape, write error) is reported on one stderr line
// and skipped; the run goes on and exits non-zero at the end with the list of failures.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "inputs.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "preprocess.hpp"
#include "progress.hpp"
#include "queue.hpp"
#include "vit/models/open.hpp"

namespace radio_embed {

// One line for any exception.
inline std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const vit::Error& err) {
    return err.what();
  } catch (const std::bad_alloc&) {
    return "out of memory";
  } catch (const std::exception& err) {
    return err.what();
  } catch (...) {
    return "unknown error";
  }
}

// How many of `v` are NaN or +-Inf.
inline std::size_t count_nonfinite(const std::vector<float>& v) {
  return std::size_t(std::count_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); }));
}

// "K of N <what> values" for the non-finite values of `v`, or "" when all are finite.
inline std::string nonfinite_count(const std::vector<float>& v, const char* what) {
  const std::size_t k = count_nonfinite(v);
  return k ? std::to_string(k) + " of " + std::to_string(v.size()) + " " + what + " values" : std::string();
}

// Failures collected from every stage, printed as they happen (one line each: control characters
// in names are escaped).
class FailureLog {
 public:
  void add(const std::string& input, const std::string& message) {
    print(message);
    record(input);
  }
  // An error line that is no input's own (e.g. the --out file failed).
  void print(const std::string& message) {
    std::lock_guard lock(m_);
    std::fprintf(stderr, "%s: error: %s\n", program_name(), escape_field(message, false).c_str());
  }
  // Counts `input` as failed, its reason printed already.
  void record(const std::string& input) {
    std::lock_guard lock(m_);
    list_.push_back({input, {}});
  }
  std::vector<Failure> list() const {
    std::lock_guard lock(m_);
    return list_;
  }

 private:
  mutable std::mutex m_;
  std::vector<Failure> list_;
};

// Inputs of one resized shape, stacked for one forward.
struct Batch {
  std::vector<Prepared> items;
  vit::HostTensor pixels;  // [sum of b, 3, H, W]
};

inline Batch make_batch(std::vector<Prepared> items) {
  Batch b;
  if (items.size() == 1) {
    b.pixels = std::move(items[0].pixels);
    items[0].pixels = vit::HostTensor(vit::Shape{b.pixels.shape[0], 3, 0, 0});
  } else {
    std::int64_t n = 0;
    for (const auto& it : items) n += it.pixels.shape[0];
    const auto& s = items[0].pixels.shape;
    b.pixels = vit::HostTensor(vit::Shape{n, 3, s[2], s[3]});
    std::size_t at = 0;
    for (auto& it : items) {
      std::copy(it.pixels.data.begin(), it.pixels.data.end(), b.pixels.data.begin() + std::ptrdiff_t(at));
      at += it.pixels.data.size();
      it.pixels = vit::HostTensor(vit::Shape{it.pixels.shape[0], 3, 0, 0});  // keep the count, drop the pixels
    }
  }
  b.items = std::move(items);
  return b;
}

// Samples [row, row + count) of a batch tensor [B, ...].
inline vit::HostTensor rows_of(const vit::HostTensor& t, std::int64_t row, std::int64_t count) {
  const std::int64_t per = t.shape[0] ? t.shape.numel() / t.shape[0] : 0;
  std::vector<std::int64_t> dims = t.shape.dims();
  dims[0] = count;
  return vit::HostTensor(vit::Shape(dims), std::vector<float>(t.data.begin() + row * per, t.data.begin() + (row + count) * per));
}

struct StageTimes {
  double decode = 0, resize = 0, forward = 0, write = 0;
};

// A "<program>: note: ..." line on stderr.
inline void note(const std::string& text) { std::fprintf(stderr, "%s: note: %s\n", program_name(), escape_field(text, false).c_str()); }

// A function making the backend of one more stream (--streams N); empty where streams cannot be.
template <class B>
using StreamBackends = std::function<B()>;

template <class B>
int run(B& backend, const Options& opt, const std::string& precision, const StreamBackends<B>& stream_backend = {}) {
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  vit::models::Snapshot snap = vit::models::open_model(opt.model);
  snap.choose_adaptors(opt.adaptors);
  snap.architecture.vitdet_window = opt.vitdet;
  snap.input.window = std::max(1, opt.vitdet);
  const vit::Architecture& arch = snap.architecture;
  vit::Model<B> model(backend, arch, *snap.weights);
  snap.weights.reset();  // weights now live on the backend
  const auto t_run = clock::now();
  if (opt.verbose) {
    std::fprintf(stderr, "%s: device %s, precision %s, %s model %s (patch %d, D %d, depth %d, heads %d), loaded in %.0f ms\n", program_name(),
                 std::string(backend.name()).c_str(), precision.c_str(), snap.family.c_str(), snap.name.empty() ? opt.model.c_str() : snap.name.c_str(),
                 arch.patch_size, arch.embed_dim, arch.depth, arch.num_heads, std::chrono::duration<double, std::milli>(clock::now() - t_start).count());
    for (const auto& n : snap.notes) note(n);
  }

  // --streams N: N - 1 more models over the same weights, each on its own backend, each running
  // batches as they come (results reach the writer in completion order).
  std::vector<B> stream_backends;
  std::vector<std::unique_ptr<vit::Model<B>>> streams;
  if (opt.streams > 1) {
    if constexpr (vit::SharesWeights<B>) {
      if (!stream_backend)
        vit::fail(vit::ErrorKind::argument, "--streams: not available on the " + std::string(backend.name()) + " backend");
      stream_backends.reserve(std::size_t(opt.streams - 1));
      for (int i = 1; i < opt.streams; ++i) stream_backends.push_back(stream_backend());
      for (auto& b : stream_backends) streams.push_back(std::make_unique<vit::Model<B>>(b, model));
    } else {
      vit::fail(vit::ErrorKind::argument, "--streams: the " + std::string(backend.name()) +
                                              " backend cannot share weights between streams (cpu and reference can)");
    }
  }

  FailureLog failures;
  InputSet inputs = collect_inputs(opt);
  const std::size_t total = inputs.items.size() + inputs.failures.size();
  const bool single = !opt.summary.empty() || !opt.features.empty() || !opt.pca.empty() || !opt.adaptor_summary.empty() ||
                      !opt.adaptor_features.empty();
  if (single && total != 1)
    vit::fail(vit::ErrorKind::argument, "--summary/--features/--pca/--adaptor-summary/--adaptor-features write one input's results, but " +
                                            std::to_string(total) + " inputs were given (use --out-dir, --out or --pca-dir)");
  for (const auto& f : inputs.failures) failures.add(f.input, f.message);

  const Preprocessor prep(opt, snap.input);
  if (std::string n = prep.notes(); !n.empty() && !opt.quiet) note(n);
  OutputWriter writer(opt, snap.radio_config ? snap.radio_config->version : snap.name, std::string(backend.name()), precision, total);
  const vit::IntermediateRequest request{opt.intermediates, opt.aggregation == "dense" ? vit::Aggregation::dense : vit::Aggregation::sparse};
  model.resolve_blocks(request.blocks);  // a block outside the model fails here, once, not per input
  Progress progress(total, opt.quiet);
  std::mutex stdout_mutex;
  StageTimes times;
  std::mutex times_mutex;

  BoundedQueue<Batch> ready(2);
  BoundedQueue<std::vector<ItemResult>> done(2);

  std::thread producer([&] {
    std::map<std::pair<std::int64_t, std::int64_t>, std::vector<Prepared>> groups;
    for (const auto& item : inputs.items) {
      try {
        Prepared p = prep.prepare(item);
        if (std::string bad = nonfinite_count(p.pixels.data, "input"); !bad.empty()) {
          if (!opt.allow_nonfinite)
            vit::fail(vit::ErrorKind::argument, item.path + ": " + bad + " are not finite (NaN/Inf) (pass --allow-nonfinite to run it anyway)");
          if (!opt.quiet) note(item.path + ": " + bad + " are not finite (NaN/Inf); run anyway (--allow-nonfinite)");
        }
        {
          std::lock_guard lock(times_mutex);
          times.decode += p.decode_s;
          times.resize += p.resize_s;
        }
        if (!opt.dump_input.empty())
          vit::io::write_npy((std::filesystem::path(opt.dump_input) / (item.stem + ".input.npy")).string(), p.pixels);
        if (item.is_npy || opt.batch == 1) {
          std::vector<Prepared> one;
          one.push_back(std::move(p));
          if (!ready.push(make_batch(std::move(one)))) return;
          continue;
        }
        auto& g = groups[{p.pixels.shape[2], p.pixels.shape[3]}];
        g.push_back(std::move(p));
        if (int(g.size()) == opt.batch) {
          if (!ready.push(make_batch(std::move(g)))) return;
          g.clear();
        }
      } catch (...) {
        failures.add(item.path, describe(std::current_exception()));
      }
    }
    for (auto& [shape, g] : groups)
      if (!g.empty() && !ready.push(make_batch(std::move(g)))) return;
    ready.close();
  });

  // With --out, an input is done only once the bundle is written: its stdout line waits till then.
  struct Pending {
    std::string input, line;
    std::vector<std::string> files;  // its other outputs (PCA pictures), removed if the bundle fails
  };
  std::vector<Pending> pending;
  std::size_t finished = inputs.failures.size();
  std::thread consumer([&] {
    while (auto results = done.pop()) {
      for (auto& r : *results) {
        const auto t0 = clock::now();
        try {
          std::string bad = nonfinite_count(r.summary.data, "summary");
          auto also = [&bad](const std::vector<float>& v, const std::string& what) {
            if (std::string f = nonfinite_count(v, what.c_str()); !f.empty()) bad += (bad.empty() ? "" : " and ") + f;
          };
          also(r.features.data, "feature");
          for (const auto& h : r.adaptors) {
            also(h.summary.data, h.name + " summary");
            also(h.features.data, h.name + " feature");
          }
          for (const auto& e : r.intermediates) also(e.features.data, "block " + std::to_string(e.block) + " feature");
          if (!bad.empty()) {
            if (!opt.allow_nonfinite)
              vit::fail(vit::ErrorKind::backend, r.item.path + ": the outputs are not finite: " + bad +
                                                     " are NaN/Inf (nothing written; --allow-nonfinite writes them anyway)");
            if (!opt.quiet) note(r.item.path + ": the outputs are not finite: " + bad + " are NaN/Inf; written anyway (--allow-nonfinite)");
          }
          std::vector<std::string> paths = writer.write(r);
          std::string line = escape_field(r.item.path) + "\t" + std::to_string(r.height) + "x" + std::to_string(r.width);
          for (const auto& p : paths) {
            line += '\t';
            line += escape_field(p);
          }
          if (!opt.out.empty()) {
            pending.push_back({r.item.path, std::move(line), std::move(paths)});
          } else {
            std::lock_guard lock(stdout_mutex);
            std::printf("%s\n", line.c_str());
          }
        } catch (...) {
          failures.add(r.item.path, describe(std::current_exception()));
        }
        {
          std::lock_guard lock(times_mutex);
          times.write += std::chrono::duration<double>(clock::now() - t0).count();
        }
        progress.update(++finished);
      }
    }
  });

  vit::HostTensor bench_input;
  std::size_t images_run = 0;
  auto forward_batches = [&](vit::Model<B>& model) {
  while (auto batch = ready.pop()) {
    const auto t0 = clock::now();
    try {
      vit::HostOutput out = model.forward(batch->pixels, vit::Layout::nlc, request);
      {
        std::lock_guard lock(times_mutex);
        times.forward += std::chrono::duration<double>(clock::now() - t0).count();
        if (opt.bench > 0 && bench_input.data.empty()) bench_input = batch->pixels;
      }
      const auto& s = batch->pixels.shape;
      const int gh = int(s[2]) / arch.patch_size, gw = int(s[3]) / arch.patch_size;
      std::vector<ItemResult> results;
      std::int64_t row = 0;
      for (auto& p : batch->items) {
        const std::int64_t b = p.pixels.shape[0];
        const std::int64_t c = out.summary.shape[1], t = out.features.shape[1], d = out.features.shape[2];
        ItemResult r{p.item, vit::HostTensor(vit::Shape{b, c}), vit::HostTensor(vit::Shape{b, t, d}), int(s[2]), int(s[3]), p.source_h, p.source_w, gh, gw, {}, {}};
        std::copy_n(out.summary.data.begin() + row * c, b * c, r.summary.data.begin());
        std::copy_n(out.features.data.begin() + row * t * d, b * t * d, r.features.data.begin());
        for (const auto& h : out.adaptors)
          r.adaptors.push_back({h.name, rows_of(h.summary, row, b), rows_of(h.features, row, b), h.grid_h, h.grid_w});
        for (const auto& e : out.intermediates) r.intermediates.push_back({e.block, rows_of(e.summary, row, b), rows_of(e.features, row, b)});
        row += b;
        results.push_back(std::move(r));
      }
      {
        std::lock_guard lock(times_mutex);
        images_run += batch->items.size();
      }
      done.push(std::move(results));
    } catch (...) {
      const std::string why = describe(std::current_exception());
      for (const auto& p : batch->items) failures.add(p.item.path, p.item.path + ": forward failed: " + why);
    }
  }
  };
  {
    std::vector<std::thread> workers;
    for (auto& m : streams) workers.emplace_back([&forward_batches, &m] { forward_batches(*m); });
    forward_batches(model);
    for (auto& w : workers) w.join();
  }
  producer.join();
  done.close();
  consumer.join();
  progress.clear();

  try {
    if (std::string bundle = writer.finish(); !bundle.empty()) {
      for (const auto& p : pending) std::printf("%s\n", p.line.c_str());
      std::printf("%s\n", escape_field(bundle).c_str());
    }
  } catch (...) {  // none of the inputs meant for the bundle is saved: remove their other outputs
    failures.print(describe(std::current_exception()) + " (" + std::to_string(pending.size()) + " inputs meant for it are not saved)");
    for (const auto& p : pending) {
      for (const auto& f : p.files) std::remove(f.c_str());
      failures.record(p.input);
    }
  }
  std::fflush(stdout);

  if (opt.verbose) {
    const double wall = std::chrono::duration<double>(clock::now() - t_run).count();
    std::fprintf(stderr,
                 "%s: %zu inputs in %.3f s after loading (%.2f images/s); stage totals: decode %.1f ms, resize %.1f ms, forward %.1f ms, "
                 "write %.1f ms (decode/resize and write run beside the forward)\n",
                 program_name(), images_run, wall, wall > 0 ? double(images_run) / wall : 0.0, times.decode * 1e3, times.resize * 1e3, times.forward * 1e3,
                 times.write * 1e3);
  }

  const auto failed = failures.list();
  if (!failed.empty() && total > 1) {
    const std::string names = vit::joined(failed, [](const auto& f) { return escape_field(f.input, false); });
    std::fprintf(stderr, "%s: error: %zu of %zu inputs failed: %s\n", program_name(), failed.size(), total, names.c_str());
  }
  if (opt.bench > 0) {
    if (bench_input.data.empty()) vit::fail(vit::ErrorKind::argument, "--bench: no input ran successfully, nothing to time");
    auto images = backend.upload(bench_input);
    std::vector<double> ms;
    for (int i = 0; i < opt.bench; ++i) {
      const auto t0 = clock::now();
      model.forward(images);
      backend.synchronize();
      ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
    std::fprintf(stderr, "forward: median %.3f ms, min %.3f ms over %d runs\n", median, ms.front(), opt.bench);
  }

  return failed.empty() ? 0 : 1;
}

}  // namespace radio_embed
