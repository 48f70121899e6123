"""The bindings against the golden fixtures and the C++ API (the CLI), input without copies,
results owning their memory, the CLI's preprocessing, errors as vit.Error, and threads."""

import os
import sys
import threading
import time

import numpy as np
import pytest

import vit
from conftest import DATA, REPO, make_images, run_cli

# vulkan when the module has it (lavapipe, Mesa's CPU device, runs it without a GPU)
BACKENDS = ["cpu", "reference"] + (["vulkan"] if "vulkan" in vit.backends() else [])


def fixture_cases():
    """(model folder, case, input .npy, golden summary, golden features) of tests/data."""
    cases = []
    for family, features_name in (("radio", "spatial_features.npy"), ("timm", "features.npy")):
        for model in sorted(p for p in (DATA / family).iterdir() if p.is_dir()):
            for npy in sorted(model.glob("input_*.npy")):
                case = npy.stem[len("input_"):]
                cases.append(pytest.param(model, npy, model / case / "summary.npy", model / case / features_name, id=f"{family}-{model.name}-{case}"))
    return cases


@pytest.fixture(scope="module")
def models():
    """One model per (folder, backend), loaded once for the module."""
    cache = {}

    def get(folder, backend):
        key = (str(folder), backend)
        if key not in cache:
            try:
                cache[key] = vit.load(str(folder), backend, threads=2 if backend == "cpu" else 0)
            except vit.Error as e:
                if backend != "vulkan" or e.kind != "backend" or os.environ.get("VIT_REQUIRE_VULKAN") == "1":
                    raise
                pytest.skip(f"no Vulkan device: {e}")
        return cache[key]

    return get


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("folder,npy,summary,features", fixture_cases())
def test_fixture_matches_golden(models, backend, folder, npy, summary, features):
    out = models(folder, backend)(np.load(npy))
    assert out.summary.dtype == np.float32 and out.features.dtype == np.float32
    assert np.abs(out.summary - np.load(summary)).max() <= 1e-4
    assert np.abs(out.features - np.load(features)).max() <= 1e-4


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("folder,npy,summary,features", fixture_cases())
def test_fixture_same_numbers_as_cpp(models, cli, tmp_path, backend, folder, npy, summary, features):
    s, f = tmp_path / "s.npy", tmp_path / "f.npy"
    run_cli(cli, "--model", folder, "--input", npy, "--summary", s, "--features", f, "--backend", backend, "--allow-large", *(["--threads", 2] if backend == "cpu" else []))
    out = models(folder, backend)(np.load(npy))
    np.testing.assert_array_equal(out.summary, np.load(s))
    np.testing.assert_array_equal(out.features, np.load(f))


def test_layout_nchw_is_the_permutation(models):
    m = models(DATA / "radio" / "A", "cpu")
    x = np.load(DATA / "radio" / "A" / "input_rect96x128.npy")
    nlc, nchw = m(x), m(x, layout="nchw")
    gh, gw = nlc.grid
    assert (gh, gw) == (96 // 16, 128 // 16) and nchw.layout == "nchw"
    np.testing.assert_array_equal(nchw.features, nlc.features.reshape(2, gh, gw, -1).transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(nchw.summary, nlc.summary)


@pytest.mark.parametrize("backend", BACKENDS)
def test_input_is_read_in_place(models, backend):
    m = models(DATA / "radio" / "A", backend)
    batch = np.load(DATA / "radio" / "A" / "input_rect96x128.npy")
    for x in (batch, batch[1:]):  # an array and a view into another one
        refs = sys.getrefcount(x)
        out = m(x)
        # the backend read the caller's buffer (vulkan: staged through one host copy, see docs/python.md)
        assert m._last_input == (x.ctypes.data, backend == "vulkan")
        assert sys.getrefcount(x) == refs  # and kept no reference to it
        assert out.summary.shape[0] == x.shape[0]
    # a read-only array is read in place too
    ro = batch.copy()
    ro.flags.writeable = False
    m(ro)
    assert m._last_input[0] == ro.ctypes.data


def test_results_own_their_memory_and_speak_dlpack(models):
    m = models(DATA / "radio" / "A", "cpu")
    x = np.load(DATA / "radio" / "A" / "input_sq128.npy")
    out = m(x)
    summary, features = out.summary, out.features
    del out, m
    assert summary.flags.c_contiguous and features.flags.c_contiguous and features.flags.writeable
    assert not np.shares_memory(features, x)
    view = np.from_dlpack(features)  # DLPack: the same memory, no copy
    assert view.ctypes.data == features.ctypes.data
    assert summary.base is not None and not np.shares_memory(summary, features)


def test_model_properties(models):
    m = models(DATA / "radio" / "A", "cpu")
    assert (m.family, m.backend, m.precision, m.patch_size, m.embed_dim, m.depth) == ("radio", "cpu", "fp32", 16, 64, 2)
    assert m.summary_dim == 3 * 64 and m.num_prefix_tokens == 8
    assert m.attention_scale == pytest.approx((64 // m.num_heads) ** -0.5)
    assert m.input["patch_size"] == 16
    assert "cpu: 2 threads" in m.description and "cpu" in repr(m)
    assert set(vit.backends()) >= {"reference", "cpu"}


@pytest.mark.parametrize("precision,bound", [("bf16", 6e-2), ("fp16", 1e-2)])
def test_reference_16bit_precision(precision, bound):
    """The reference backend's 16-bit oracle: a 16-bit-sized error against the fp32 goldens, within
    tests/test_reference_16bit.cpp's bound (fp32 agrees to ~2e-6)."""
    folder = DATA / "radio" / "A"
    m = vit.load(str(folder), "reference", precision=precision)
    assert m.precision == precision
    err = np.abs(m(np.load(folder / "input_sq128.npy")).features - np.load(folder / "sq128" / "spatial_features.npy")).max()
    assert 1e-4 < err <= bound


@pytest.mark.parametrize("image", sorted((REPO / "assets" / "samples").iterdir()), ids=lambda p: p.name)
def test_prepare_equals_the_cli_input(models, cli, tmp_path, image):
    m = models(DATA / "radio" / "A", "cpu")
    run_cli(cli, "--model", DATA / "radio" / "A", image, "--out-dir", tmp_path / "out", "--dump-input", tmp_path, "--quiet")
    dumped = np.load(tmp_path / f"{image.stem}.input.npy")
    x = m.prepare(str(image))
    assert x.dtype == np.float32 and x.shape[2] % 16 == 0 and x.shape[3] % 16 == 0
    np.testing.assert_array_equal(x, dumped)
    np.testing.assert_array_equal(vit.prepare(str(image), m), dumped)


def test_prepare_resolution_and_helpers(models, cli, tmp_path):
    m = models(DATA / "radio" / "A", "cpu")
    image = REPO / "assets" / "samples" / "shapes.png"
    run_cli(cli, "--model", DATA / "radio" / "A", image, "--out-dir", tmp_path / "out", "--dump-input", tmp_path, "--resolution", "64x96", "--quiet")
    np.testing.assert_array_equal(m.prepare(str(image), resolution=(64, 96)), np.load(tmp_path / "shapes.input.npy"))
    np.testing.assert_array_equal(m.prepare(str(image), resolution="64x96"), np.load(tmp_path / "shapes.input.npy"))
    raw = vit.load_image(str(image))
    assert raw.shape[:2] == (1, 3) and 0 <= raw.min() and raw.max() <= 1
    np.testing.assert_array_equal(vit.resize(raw, 64, 96), np.load(tmp_path / "shapes.input.npy"))
    assert vit.nearest_supported_resolution(200, 300, 16) == (192, 304)


def test_errors_are_vit_errors_with_the_library_message(models, tmp_path):
    m = models(DATA / "radio" / "A", "cpu")
    x = np.load(DATA / "radio" / "A" / "input_sq128.npy")
    cases = [
        (lambda: m(x.astype(np.float64)), "shape", "images: expected float32 values, got float64"),
        (lambda: m(np.asfortranarray(x)), "shape", "C-contiguous"),
        (lambda: m(x[0]), "shape", "expected [B, 3, H, W], got [3, 128, 128]"),
        (lambda: m([1.0, 2.0]), "shape", "expected a float32 NumPy array"),
        (lambda: m(np.zeros((1, 3, 100, 128), np.float32)), "shape", "multiples of the patch size 16"),
        (lambda: m(x, layout="nhwc"), "argument", "layout: expected 'nlc' or 'nchw', got 'nhwc'"),
        (lambda: vit.load(str(tmp_path / "missing")), "io", "no such file or folder"),
        (lambda: vit.load(str(DATA / "radio" / "A"), "tpu"), "argument", "unknown backend 'tpu'"),
        (lambda: vit.load(str(DATA / "radio" / "A"), precision="bf16"), "unsupported", "cpu backend: precision bf16 is not supported (supported: fp32)"),
        (lambda: vit.load(str(DATA / "radio" / "A"), threads=-1), "argument", "threads must be >= 0"),
        (lambda: vit.load(str(DATA / "bad" / "truncated-model")), None, "truncated-model"),
        (lambda: m.prepare(str(tmp_path / "none.png")), "io", "none.png"),
        (lambda: m.prepare(str(REPO / "assets" / "samples" / "shapes.png"), resolution="50x50"), "argument", "multiples of the patch size"),
        (lambda: m.prepare(str(REPO / "assets" / "samples" / "shapes.png"), preprocess="pil"), "argument", "preprocess: expected 'torch' or 'hf'"),
    ]
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    cases.append((lambda: m.prepare(str(tmp_path / "bad.png")), "format", "bad.png"))
    for call, kind, text in cases:
        with pytest.raises(vit.Error) as e:
            call()
        assert text in str(e.value), str(e.value)
        assert "\n" not in str(e.value)
        if kind:
            assert e.value.kind == kind, (str(e.value), e.value.kind)
    assert issubclass(vit.Error, RuntimeError)


def test_threads_share_one_model(models):
    """Several Python threads on one model: every result equals the one computed alone."""
    m = models(DATA / "radio" / "A", "cpu")
    rng = np.random.default_rng(1)
    inputs = [rng.random((1, 3, 16 * (2 + i % 3), 16 * (3 + i % 2)), dtype=np.float32) for i in range(8)]
    expected = [m(x) for x in inputs]
    results, errors = {}, []

    def work(k):
        try:
            for r in range(5):
                i = (k + r) % len(inputs)
                results[(k, r)] = (i, m(inputs[i]))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 20
    for i, out in results.values():
        np.testing.assert_array_equal(out.summary, expected[i].summary)
        np.testing.assert_array_equal(out.features, expected[i].features)


def test_forward_releases_the_gil(models):
    """While one thread runs a long forward, another Python thread keeps running."""
    m = models(DATA / "radio" / "A", "reference")
    x = np.random.default_rng(2).random((1, 3, 384, 384), dtype=np.float32)
    t0 = time.perf_counter()
    m(x)
    alone = time.perf_counter() - t0
    ticks = 0
    worker = threading.Thread(target=m, args=(x,))
    worker.start()
    while worker.is_alive():
        ticks += 1
        time.sleep(0.001)
    worker.join()
    # with the GIL held through the forward this loop could not run during it
    assert ticks >= min(20, alone / 0.004), (ticks, alone)


# --- C-RADIOv4 extras on fixture F: adaptor heads, intermediate layers, ViTDet ------------------------

F = DATA / "radio" / "F"
HEADS = ["siglip2-g", "dino_v3"]


def close(got, golden_file, bound=1e-4):
    want = np.load(golden_file)
    assert got.size == want.size, (got.shape, want.shape)
    assert np.abs(got.reshape(want.shape) - want).max() <= bound, golden_file


@pytest.fixture(scope="module")
def f_models():
    return {w: vit.load(str(F), "cpu", threads=2, adaptors=HEADS, vitdet=w) for w in (0, 2)}


@pytest.mark.parametrize("case", ["rect64x96", "sq128", "rect80x112"])
def test_adaptors_and_intermediates_match_golden(f_models, case):
    m = f_models[0]
    assert m.adaptors == HEADS and set(m.available_adaptors) >= set(HEADS)
    x = np.load(F / f"input_{case}.npy")
    for aggregation, tag in (("sparse", "intermediates_"), ("dense", "intermediates_dense_")):
        out = m(x, intermediates=[4, -2], aggregation=aggregation)
        close(out.summary, F / case / "summary.npy")
        close(out.features, F / case / "spatial_features.npy")
        assert list(out.adaptors) == HEADS
        for name, head in out.adaptors.items():
            assert head.name == name
            close(head.summary, F / case / f"adaptor_{name}_summary.npy")
            close(head.features, F / case / f"adaptor_{name}_features.npy")
        assert [e.block for e in out.intermediates] == [4, m.depth - 2]
        for e in out.intermediates:
            close(e.features, F / case / f"{tag}{e.block}.npy")
            close(e.summary, F / case / f"{tag}{e.block}_summary.npy")


@pytest.mark.parametrize("case", ["rect64x96", "sq128"])
def test_vitdet_matches_golden(f_models, case):
    m = f_models[2]
    assert m.vitdet == 2
    out = m(np.load(F / f"input_{case}.npy"))
    close(out.summary, F / case / "vitdet" / "summary.npy")
    close(out.features, F / case / "vitdet" / "spatial_features.npy")
    for name in HEADS:
        close(out.adaptors[name].summary, F / case / "vitdet" / f"adaptor_{name}_summary.npy")
        close(out.adaptors[name].features, F / case / "vitdet" / f"adaptor_{name}_features.npy")


def test_v4_errors_and_prepare_under_vitdet(f_models, cli, tmp_path):
    m = f_models[2]
    with pytest.raises(vit.Error, match="multiples of 32"):
        m(np.load(F / "input_rect80x112.npy"))  # a 5x7 grid is not a multiple of the window
    with pytest.raises(vit.Error, match="not available with ViTDet"):
        m(np.load(F / "input_sq128.npy"), intermediates=[4])
    with pytest.raises(vit.Error, match="aggregation: expected 'sparse' or 'dense'"):
        f_models[0](np.load(F / "input_sq128.npy"), intermediates=[4], aggregation="mean")
    with pytest.raises(vit.Error, match="adaptor 'clip'") as e:
        vit.load(str(F), adaptors=["clip"])
    assert e.value.kind == "config"
    image = REPO / "assets" / "samples" / "shapes.png"
    run_cli(cli, "--model", F, image, "--vitdet", 2, "--out-dir", tmp_path / "out", "--dump-input", tmp_path, "--allow-large", "--quiet")
    x = m.prepare(str(image), allow_large=True)
    assert x.shape[2] % 32 == 0 and x.shape[3] % 32 == 0
    np.testing.assert_array_equal(x, np.load(tmp_path / "shapes.input.npy"))
