// vit._vit — the Python module (nanobind): vit.load() -> Model, Model(images) -> Output, the CLI's
// image preprocessing, and vit.Error. The package's __init__.py re-exports all of it.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "any_model.hpp"
#include "arrays.hpp"
#include "images.hpp"
#include "vit/io/resize.hpp"
#include "vit/version.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace vit::python {
namespace {

// An adaptor head's outputs (C-RADIO's teacher heads).
struct PyHead {
  std::string name;
  nb::object summary, features;
  int grid_h = 0, grid_w = 0;
};

// One intermediate layer: the output of a block (sparse) or the mean over a run of blocks (dense).
struct PyIntermediate {
  int block = 0;
  nb::object summary, features;
};

// The result of one forward. Its arrays own their memory; new outputs add fields here.
struct PyOutput {
  nb::object summary, features;
  int grid_h = 0, grid_w = 0;
  std::string layout;
  nb::dict adaptors;       // name -> PyHead, in the order they were asked for
  nb::list intermediates;  // PyIntermediate, ascending block order
};

// A loaded model; copies of the Python object share it.
struct PyModel {
  std::shared_ptr<AnyModel> model;
};

Layout parse_layout(const std::string& s) {
  if (s == "nlc") return Layout::nlc;
  if (s == "nchw") return Layout::nchw;
  fail(ErrorKind::argument, "layout: expected 'nlc' or 'nchw', got '" + s + "'");
}

// resolution=None | "preferred" | "HxW" | (H, W) -> PrepareOptions fields.
void parse_resolution(nb::handle r, PrepareOptions& o) {
  if (r.is_none()) return;
  if (nb::isinstance<nb::str>(r)) {
    const std::string s = nb::cast<std::string>(r);
    if (s == "preferred") {
      o.preferred_resolution = true;
      return;
    }
    int h = 0, w = 0;
    char x = 0, extra = 0;
    if (std::sscanf(s.c_str(), "%d%c%d%c", &h, &x, &w, &extra) == 3 && (x == 'x' || x == 'X') && h > 0 && w > 0) {
      o.resolution = std::pair{h, w};
      return;
    }
    fail(ErrorKind::argument, "resolution: expected 'HxW', 'preferred' or (H, W), got '" + s + "'");
  }
  std::pair<int, int> hw;
  if (!nb::try_cast(r, hw) || hw.first <= 0 || hw.second <= 0)
    fail(ErrorKind::argument, "resolution: expected 'HxW', 'preferred' or (H, W) with positive sides, got " + std::string(nb::repr(r).c_str()));
  o.resolution = hw;
}

Aggregation parse_aggregation(const std::string& s) {
  if (s == "sparse") return Aggregation::sparse;
  if (s == "dense") return Aggregation::dense;
  fail(ErrorKind::argument, "aggregation: expected 'sparse' or 'dense', got '" + s + "'");
}

PyOutput run_forward(const PyModel& self, nb::handle images, const std::string& layout, const std::vector<int>& intermediates,
                     const std::string& aggregation) {
  const AnyArray a = as_array(images, "images");  // holds the caller's buffer until we return
  const InputView view = input_view(a, "images");
  const ForwardOptions options{parse_layout(layout), {intermediates, parse_aggregation(aggregation)}};
  Result r;
  {
    nb::gil_scoped_release unlocked;
    r = self.model->forward(view, options);
  }
  PyOutput out{to_numpy(std::move(r.out.summary)), to_numpy(std::move(r.out.features)), r.grid_h, r.grid_w, layout, {}, {}};
  for (HostHeadOutput& h : r.out.adaptors)
    out.adaptors[h.name.c_str()] = PyHead{h.name, to_numpy(std::move(h.summary)), to_numpy(std::move(h.features)), h.grid_h, h.grid_w};
  for (HostIntermediate& e : r.out.intermediates) out.intermediates.append(PyIntermediate{e.block, to_numpy(std::move(e.summary)), to_numpy(std::move(e.features))});
  return out;
}

nb::object run_prepare(const PyModel& self, const std::string& path, nb::handle resolution, const std::string& preprocess, bool allow_large) {
  PrepareOptions o;
  parse_resolution(resolution, o);
  o.preprocess = preprocess;
  o.allow_large = allow_large;
  HostTensor t;
  {
    nb::gil_scoped_release unlocked;
    t = prepare_input(self.model->info(), path, o);
  }
  return to_numpy(std::move(t));
}

// Raised for every vit::Error: the library's one-line message, and .kind its category.
nb::object make_error_type(nb::module_& m) {
  const char* doc =
      "An error of the vit library: str(e) is its one-line message (what, where, expected vs got)\n"
      "and e.kind its category: 'io', 'format', 'config', 'shape', 'argument', 'backend',\n"
      "'out_of_memory' or 'unsupported'.";
  nb::object type = nb::steal(PyErr_NewExceptionWithDoc("vit.Error", doc, PyExc_RuntimeError, nullptr));
  type.attr("__module__") = "vit";
  type.attr("kind") = "unknown";
  m.attr("Error") = type;
  nb::register_exception_translator(
      [](const std::exception_ptr& p, void* payload) {
        try {
          std::rethrow_exception(p);
        } catch (const Error& e) {
          PyObject* t = static_cast<PyObject*>(payload);
          const std::string what = e.what();  // file names may not be UTF-8: kept as \x escapes
          PyObject* message = PyUnicode_DecodeUTF8(what.data(), Py_ssize_t(what.size()), "backslashreplace");
          PyObject* exc = message ? PyObject_CallOneArg(t, message) : nullptr;
          Py_XDECREF(message);
          if (!exc) return;  // a Python error is set already
          PyObject* kind = PyUnicode_FromString(to_string(e.kind()));
          if (kind) PyObject_SetAttrString(exc, "kind", kind);
          Py_XDECREF(kind);
          PyErr_SetObject(t, exc);
          Py_DECREF(exc);
        }
      },
      type.ptr());
  return type;
}

const char* kLoadDoc = R"(Open a model folder and build the model on a backend.

Args:
    path: a model folder of any family this library knows: a HuggingFace C-RADIO snapshot
        (config.json + model.safetensors), a timm hub snapshot (ViT, DeiT, DINOv2, SigLIP), or a
        project JSON config (a file or folder; random weights without model.safetensors).
    backend: "cpu" (oneDNN + OpenMP, the fast one), "reference" (plain loops, one thread: the
        test oracle) or "vulkan" (when the module was built with it); vit.backends() lists them.
    threads: cpu threads for this model's forwards; 0 = all cores of the process's CPU affinity.
        Only for backend="cpu".
    precision: "fp32" (every backend); "fp16" on vulkan; "bf16" and "fp16" on reference (16-bit storage, double sums).
    device: the Vulkan device index; -1 = $VIT_VULKAN_DEVICE or the first device.
    adaptors: names of C-RADIO teacher heads to run beside the backbone (e.g. ["siglip2-g",
        "dino_v3"]); Model.available_adaptors lists what the folder offers. Their outputs are
        Output.adaptors[name].
    vitdet: ViTDet windowed attention with vitdet x vitdet windows of patches in the windowed
        blocks (C-RADIO's vitdet_window_size); 0 = off. Sides must then be multiples of
        patch * vitdet (Model.prepare resizes to such sizes).

Returns:
    a vit.Model; call it on a float32 [B, 3, H, W] array in [0, 1].

Raises:
    vit.Error: the folder cannot be read or is not a model, a backend or precision this build
        lacks, a bad argument (e.kind says which).

The weights are read once, here; the GIL is released while they load.)";

const char* kCallDoc = R"(Run the model on a batch of images.

Args:
    images: float32 [B, 3, H, W], RGB in [0, 1], C-contiguous, in host memory: a NumPy array or
        any array with the buffer protocol or DLPack (e.g. a CPU torch tensor). It is read in
        place: no copy is made before the backend's upload, and nothing is converted (another
        dtype or a non-contiguous array is an error). H and W must be multiples of the patch size
        (Model.prepare() resizes images as the CLI does).
    layout: "nlc" -> features [B, T, D] (T = H/p * W/p, row-major over the patch grid);
        "nchw" -> features [B, D, H/p, W/p]. Applies to the adaptors' and intermediates' features too.
    intermediates: blocks whose outputs to return as well (negative: from the end, -1 = the
        last block); not with ViTDet.
    aggregation: "sparse" (each entry is its block's output) or "dense" (the mean of the outputs
        of the blocks since the previous entry), as RADIO's forward_intermediates.

Returns:
    a vit.Output: summary [B, C], features, grid (H/p, W/p), adaptors {name: vit.Head},
    intermediates [vit.Intermediate]. Its arrays own their memory.

The GIL is released during the forward. One model may be called from several Python threads:
the calls run one at a time (a lock per model), each with all of the model's threads; to run
forwards side by side, load one model per thread. Do not write to `images` while a call that
reads it is running.)";

const char* kPrepareDoc = R"(Read an image file as vit-embed does and return the model's input.

The CLI's own code: decode (PNG, JPEG, BMP, TGA; gray and RGBA become RGB), samples / 255, then
resize to the nearest supported resolution of this model (each side a multiple of the patch,
bilinear like torch's F.interpolate, no antialias) or to `resolution`. A .npy file (float32
[B, 3, H, W]) is returned as it is, its sides checked.

Args:
    path: the image (or .npy) file.
    resolution: None (the model's rule: nearest multiple of the patch for C-RADIO, the model's
        own input size for timm), "preferred" (the config's preferred_resolution), "HxW" or
        (H, W) (multiples of the patch).
    preprocess: "torch" (RADIO's PyTorch path) or "hf" (the folder's preprocessor_config.json,
        as transformers' CLIPImageProcessor; its normalisation is not applied: the model
        normalises its input itself).
    allow_large: accept sizes beyond the model's max_resolution.

Returns:
    float32 [B, 3, H, W] in [0, 1] (B = 1 for an image).

The GIL is released while the file is decoded and resized.)";

}  // namespace
}  // namespace vit::python

NB_MODULE(_vit, m) {
  using namespace vit::python;
  m.doc() = "vit: Vision Transformers (C-RADIO, timm ViT/DeiT/DINOv2/SigLIP) in C++ - the compiled part of the vit package.";
  m.attr("__version__") = VIT_VERSION_STRING;
  make_error_type(m);

  nb::class_<PyHead>(m, "Head", "The outputs of one adaptor head (a C-RADIO teacher head).")
      .def_ro("name", &PyHead::name, "The head's name, e.g. 'siglip2-g'.")
      .def_prop_ro("summary", [](const PyHead& o) { return o.summary; }, nb::for_getter(nb::sig("def summary(self, /) -> numpy.typing.NDArray[numpy.float32]")),
                   nb::for_getter("float32 [B, Cs]: the head's summary."))
      .def_prop_ro("features", [](const PyHead& o) { return o.features; },
                   nb::for_getter(nb::sig("def features(self, /) -> numpy.typing.NDArray[numpy.float32]")),
                   nb::for_getter("float32 [B, gh*gw, Cf] (nlc) or [B, Cf, gh, gw] (nchw): the head's features on its own grid."))
      .def_prop_ro("grid", [](const PyHead& o) { return std::pair{o.grid_h, o.grid_w}; }, "(grid_h, grid_w) of the head's features.")
      .def("__repr__", [](const PyHead& o) {
        return "vit.Head('" + o.name + "', summary " + std::string(nb::repr(o.summary.attr("shape")).c_str()) + ", features " +
               std::string(nb::repr(o.features.attr("shape")).c_str()) + ")";
      });

  nb::class_<PyIntermediate>(m, "Intermediate", "One intermediate layer asked for with Model(..., intermediates=[...]).")
      .def_ro("block", &PyIntermediate::block, "The block number (negatives resolved).")
      .def_prop_ro("summary", [](const PyIntermediate& o) { return o.summary; },
                   nb::for_getter(nb::sig("def summary(self, /) -> numpy.typing.NDArray[numpy.float32]")),
                   nb::for_getter("float32 [B, n*D]: its summary tokens, concatenated ([B, 0] for a model without token pooling)."))
      .def_prop_ro("features", [](const PyIntermediate& o) { return o.features; },
                   nb::for_getter(nb::sig("def features(self, /) -> numpy.typing.NDArray[numpy.float32]")),
                   nb::for_getter("float32 [B, T, D] (nlc) or [B, D, gh, gw] (nchw): its patch tokens (no final norm)."))
      .def("__repr__", [](const PyIntermediate& o) {
        return "vit.Intermediate(block " + std::to_string(o.block) + ", features " + std::string(nb::repr(o.features.attr("shape")).c_str()) + ")";
      });

  nb::class_<PyOutput>(m, "Output", "The result of Model.__call__: summary, features and the patch grid.")
      .def_prop_ro("summary", [](const PyOutput& o) { return o.summary; },
                   nb::for_getter(nb::sig("def summary(self, /) -> numpy.typing.NDArray[numpy.float32]")),
                   nb::for_getter("float32 [B, C]: the model's pooled vector(s) per image (a NumPy array owning its memory)."))
      .def_prop_ro("features", [](const PyOutput& o) { return o.features; },
                   nb::for_getter(nb::sig("def features(self, /) -> numpy.typing.NDArray[numpy.float32]")),
                   nb::for_getter("float32 [B, T, D] (layout 'nlc') or [B, D, grid_h, grid_w] ('nchw'): one vector per patch, without the "
                                  "cls/register tokens."))
      .def_prop_ro("grid", [](const PyOutput& o) { return std::pair{o.grid_h, o.grid_w}; }, "(grid_h, grid_w) = (H / patch, W / patch).")
      .def_ro("layout", &PyOutput::layout, "The layout of `features`: 'nlc' or 'nchw'.")
      .def_prop_ro("adaptors", [](const PyOutput& o) { return o.adaptors; }, nb::for_getter(nb::sig("def adaptors(self, /) -> dict[str, Head]")),
                   nb::for_getter("The adaptor heads' outputs by name (the heads given to vit.load)."))
      .def_prop_ro("intermediates", [](const PyOutput& o) { return o.intermediates; },
                   nb::for_getter(nb::sig("def intermediates(self, /) -> list[Intermediate]")),
                   nb::for_getter("The intermediate layers asked for, in ascending block order."))
      .def("__repr__", [](const PyOutput& o) {
        auto shape = [](const nb::object& a) { return std::string(nb::repr(a.attr("shape")).c_str()); };
        return "vit.Output(summary " + shape(o.summary) + ", features " + shape(o.features) + " " + o.layout + ", grid " +
               std::to_string(o.grid_h) + "x" + std::to_string(o.grid_w) + ")";
      });

  nb::class_<PyModel>(m, "Model", "A Vision Transformer on a backend, made by vit.load(). Call it on images.")
      .def("__call__", &run_forward, "images"_a, nb::kw_only(), "layout"_a = "nlc", "intermediates"_a = std::vector<int>{}, "aggregation"_a = "sparse",
           kCallDoc,
           nb::sig("def __call__(self, images: numpy.typing.ArrayLike, *, layout: str = 'nlc', intermediates: collections.abc.Sequence[int] = (), "
                   "aggregation: str = 'sparse') -> Output"))
      .def("prepare", &run_prepare, "path"_a, nb::kw_only(), "resolution"_a = nb::none(), "preprocess"_a = "torch", "allow_large"_a = false,
           kPrepareDoc, nb::sig("def prepare(self, path: str, *, resolution: str | tuple[int, int] | None = None, preprocess: str = 'torch', "
                                "allow_large: bool = False) -> numpy.typing.NDArray[numpy.float32]"))
      .def_prop_ro("path", [](const PyModel& s) { return s.model->info().load.path; }, "The folder (or config file) it was loaded from.")
      .def_prop_ro("backend", [](const PyModel& s) { return s.model->info().load.backend; }, "'cpu', 'reference' or 'vulkan'.")
      .def_prop_ro("precision", [](const PyModel& s) { return s.model->info().load.precision; }, "'fp32', 'bf16' or 'fp16': the precision the model was loaded with.")
      .def_prop_ro("description", [](const PyModel& s) { return s.model->info().description; },
                   "The backend in words, e.g. 'cpu: 2 threads, oneDNN 2.6.3 (avx2), attention avx2, linear packed avx2'.")
      .def_prop_ro("family", [](const PyModel& s) { return s.model->info().family; }, "'radio' or 'timm'.")
      .def_prop_ro("name", [](const PyModel& s) { return s.model->info().name; }, "The model's name, e.g. 'C-RADIOv3-B'.")
      .def_prop_ro("patch_size", [](const PyModel& s) { return s.model->info().architecture.patch_size; }, "Pixels per patch side (p).")
      .def_prop_ro("embed_dim", [](const PyModel& s) { return s.model->info().architecture.embed_dim; }, "D, the width of `features`.")
      .def_prop_ro("summary_dim", [](const PyModel& s) { return s.model->info().architecture.summary_dim(); }, "C, the width of `summary`.")
      .def_prop_ro("depth", [](const PyModel& s) { return s.model->info().architecture.depth; }, "Number of transformer blocks.")
      .def_prop_ro("num_heads", [](const PyModel& s) { return s.model->info().architecture.num_heads; }, "Attention heads per block.")
      .def_prop_ro("attention_scale", [](const PyModel& s) { return s.model->info().architecture.qk_scale(); },
                   "The factor on q·kᵀ before each softmax (1/sqrt(head dim) unless the model's config sets one).")
      .def_prop_ro("num_prefix_tokens", [](const PyModel& s) { return s.model->info().architecture.num_prefix_tokens(); },
                   "cls + register tokens in front of the patches (not in `features`).")
      .def_prop_ro(
          "input",
          [](const PyModel& s) {
            const auto& r = s.model->info().input;
            nb::dict d;
            d["patch_size"] = r.patch_size;
            d["max_resolution"] = r.max_resolution;
            d["preferred_resolution"] = std::pair{r.preferred[0], r.preferred[1]};
            d["fixed"] = r.fixed;
            d["resize_to_preferred"] = r.resize_to_preferred;
            return d;
          },
          "The input size rules: patch_size, max_resolution (0: none stated), preferred_resolution (H, W), fixed (only that size), "
          "resize_to_preferred (images go to that size by default).")
      .def_prop_ro("notes", [](const PyModel& s) { return s.model->info().notes; }, "The importer's notes about the folder.")
      .def_prop_ro("adaptors", [](const PyModel& s) { return s.model->info().load.adaptors; }, "The adaptor heads this model runs.")
      .def_prop_ro("available_adaptors", [](const PyModel& s) { return s.model->info().available_adaptors; },
                   "The adaptor heads the folder offers (for vit.load(..., adaptors=[...])).")
      .def_prop_ro("vitdet", [](const PyModel& s) { return s.model->info().load.vitdet; }, "The ViTDet window (0: off).")
      .def_prop_ro(
          "_last_input",
          [](const PyModel& s) {
            const auto [p, staged] = s.model->last_input();
            return std::pair{std::uintptr_t(p), staged};
          },
          "Testing aid: (address the last forward read its input from, whether it was staged through a host copy).")
      .def("__repr__", [](const PyModel& s) {
        const ModelInfo& i = s.model->info();
        return "vit.Model(" + i.family + " '" + i.name + "', " + i.description + ")";
      });

  m.def(
      "load",
      [](const std::string& path, const std::string& backend, int threads, const std::string& precision, int device,
         const std::vector<std::string>& adaptors, int vitdet) {
        LoadOptions o{path, backend, threads, precision, device, adaptors, vitdet};
        std::shared_ptr<AnyModel> model;
        {
          nb::gil_scoped_release unlocked;
          model = load_model(o);
        }
        return PyModel{std::move(model)};
      },
      "path"_a, "backend"_a = "cpu", nb::kw_only(), "threads"_a = 0, "precision"_a = "fp32", "device"_a = -1,
      "adaptors"_a = std::vector<std::string>{}, "vitdet"_a = 0, kLoadDoc,
      nb::sig("def load(path: str, backend: str = 'cpu', *, threads: int = 0, precision: str = 'fp32', device: int = -1, "
              "adaptors: collections.abc.Sequence[str] = (), vitdet: int = 0) -> Model"));

  m.def(
      "load_image",
      [](const std::string& path) {
        vit::HostTensor t;
        {
          nb::gil_scoped_release unlocked;
          t = decode_image(path);
        }
        return to_numpy(std::move(t));
      },
      "path"_a,
      "Decode an image file (PNG, JPEG, BMP, TGA; 8 or 16 bits) as vit-embed does, without resizing: float32 [1, 3, H, W] in [0, 1].\n"
      "Gray and RGBA become RGB (gray replicated, alpha dropped). Model.prepare() adds the model's resize.",
      nb::sig("def load_image(path: str) -> numpy.typing.NDArray[numpy.float32]"));

  m.def(
      "resize",
      [](nb::handle images, int height, int width) {
        const AnyArray a = as_array(images, "resize: images");
        const InputView v = input_view(a, "resize: images");
        vit::HostTensor t(v.shape, std::vector<float>(v.data, v.data + v.shape.numel()));
        {
          nb::gil_scoped_release unlocked;
          t = resize_images(t, height, width);
        }
        return to_numpy(std::move(t));
      },
      "images"_a, "height"_a, "width"_a,
      "Resize float32 [B, 3, H, W] to [B, 3, height, width] with the CLI's resize: bilinear as torch's F.interpolate\n"
      "(align_corners=False, no antialias). A batch already of that size comes back unchanged (as a copy).",
      nb::sig("def resize(images: numpy.typing.ArrayLike, height: int, width: int) -> numpy.typing.NDArray[numpy.float32]"));

  m.def(
      "nearest_supported_resolution",
      [](int height, int width, int patch_size) { return vit::io::nearest_supported_resolution(height, width, patch_size); }, "height"_a, "width"_a,
      "patch_size"_a,
      "The size (H, W) an image of height x width is resized to by default (C-RADIO's rule): each side max(p, round(side / p) * p),\n"
      "rounding half to even.");

  m.def("backends", &built_backends, "The backends this build of the module has, e.g. ['reference', 'cpu', 'vulkan'].");
}
