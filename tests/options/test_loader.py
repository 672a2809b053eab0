"""The strict options loader: YAML reading, typed validation, BasicSR renames, overrides, rules, dump.

Errors are checked by their exact text (the dotted key path, the expected type or the choices), so a
vaguer message fails the test. Structure/type/rule errors are raised before any component registry
is imported, so those tests need only ``sr.archs``; tests that load a complete ``Options`` need the
optimizer (``sr.models.optim``) and loss (``sr.losses``) registries and skip until they import.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from sr.cli.common import parse_net_opt
from sr.options import (
    Options,
    OptionsError,
    apply_overrides,
    dump_options,
    load_options,
    options_from_dict,
    parse_value,
    read_yaml,
)

BASE: dict[str, Any] = {
    "name": "tiny",
    "scale": 4,
    "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 4},
    "datasets": {
        "train": {"name": "tr", "type": "HRImageDataset", "dataroot_gt": "data/hr", "gt_size": 32},
        "val": {"name": "va", "type": "PairedImageDataset", "dataroot_gt": "v/hr", "dataroot_lq": "v/lr"},
    },
    "train": {"total_iter": 10, "optim_g": {"type": "Adam", "lr": 1e-4}},
}

BASE_YAML = """\
name: tiny
scale: 4
network_g:
  type: MSRResNet
  num_feat: 8
  num_block: 1
  upscale: 4
datasets:
  train:
    name: tr
    type: HRImageDataset
    dataroot_gt: data/hr
    gt_size: 32
train:
  total_iter: 10
  optim_g:
    type: Adam
    lr: 1e-4
"""


@pytest.fixture
def registries() -> None:
    """Skip until the optimizer and loss registries import (they are written alongside)."""
    pytest.importorskip("sr.models.optim", exc_type=ImportError)
    losses = pytest.importorskip("sr.losses", exc_type=ImportError)
    if not hasattr(losses, "LOSSES"):
        pytest.skip("sr.losses has no LOSSES registry yet")


def with_(**changes: Any) -> dict[str, Any]:
    """BASE with dotted keys set (value ``...`` deletes the key)."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return data


def error(data: dict[str, Any], **kw: Any) -> str:
    with pytest.raises(OptionsError) as info:
        options_from_dict(data, source="x.yml", **kw)
    return str(info.value)


def write(tmp_path: Path, text: str, name: str = "opt.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- YAML ----------------------------------------------------------------------------------------------


def test_exponent_floats_without_dot_are_floats(tmp_path):
    path = write(tmp_path, "a: 1e-4\nb: 5e-3\nc: 2E-4\nd: 1.5E3\ne: -1e-2\nf: 10\ng: '1e-4'\nh: 1.0e-4\n")
    data = read_yaml(path)
    assert data == {"a": 1e-4, "b": 5e-3, "c": 2e-4, "d": 1500.0, "e": -0.01, "f": 10, "g": "1e-4", "h": 1e-4}
    assert [type(data[k]) for k in "abcdefgh"] == [float] * 5 + [int, str, float]


def test_duplicate_key_names_key_line_and_file(tmp_path):
    path = write(tmp_path, BASE_YAML + "    lr: 2e-4\n")
    with pytest.raises(OptionsError) as info:
        load_options(path)
    # 'lr: 1e-4' is the last (18th) line of BASE_YAML, the appended one line 19
    assert str(info.value) == f"{path}: duplicate key 'lr' at line 19 (first at line 18)"


def test_duplicate_top_level_key(tmp_path):
    path = write(tmp_path, "name: a\nscale: 4\nname: b\n")
    with pytest.raises(
        OptionsError, match=re.escape(f"{path}: duplicate key 'name' at line 3 (first at line 1)")
    ):
        read_yaml(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the options file is empty"),
        ("# only a comment\n", "the options file is empty"),
        ("- a\n- b\n", "expected a mapping at the top level, got list"),
        ("name: [a\n", "invalid YAML"),
    ],
)
def test_bad_file_is_named(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(OptionsError) as info:
        load_options(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(OptionsError, match=re.escape(f"{tmp_path / 'nope.yml'}: cannot read")):
        load_options(tmp_path / "nope.yml")


# --- typed validation ------------------------------------------------------------------------------------


def test_unknown_keys_name_path_and_allowed():
    assert error(with_(foo=1)).startswith(
        "x.yml: top level: unknown key 'foo'; allowed: datasets, deterministic, "
    )
    assert error(with_(logger__print_frq=5)) == (
        "x.yml: logger: unknown key 'print_frq'; "
        "allowed: keep_last, print_freq, save_checkpoint_freq, use_tb_logger"
    )
    assert error(with_(datasets__train__io_backend={"type": "disk", "db": 1})) == (
        "x.yml: datasets.train.io_backend: unknown key 'db'; allowed: type"
    )


def test_component_kwargs_checked_against_constructor():
    # MSRResNet(num_in_ch, num_out_ch, num_feat, num_block, upscale), plus 'type'
    assert error(with_(network_g__num_blok=2)) == (
        "x.yml: network_g: unknown key 'num_blok'; "
        "allowed: num_block, num_feat, num_in_ch, num_out_ch, type, upscale"
    )
    msg = error(with_(network_g__type="ESRGAN"))
    assert msg.startswith("x.yml: network_g.type: unknown type 'ESRGAN'; choose one of ")
    assert "MSRResNet, " in msg and "RRDBNet, " in msg
    assert error(with_(network_g={"num_feat": 8})).startswith(
        "x.yml: network_g: needs a 'type' key; choose one of"
    )
    assert error(with_(network_g="RRDBNet")) == (
        "x.yml: network_g: expected a mapping with a 'type' key, got 'RRDBNet' (str)"
    )
    assert error(with_(network_g=None)) == "x.yml: network_g: expected a mapping, got None (NoneType)"


def test_wrong_types_name_path_expected_and_value():
    assert error(with_(train__total_iter="abc")) == "x.yml: train.total_iter: expected int, got 'abc' (str)"
    assert error(with_(train__total_iter=10.0)) == "x.yml: train.total_iter: expected int, got 10.0 (float)"
    assert error(with_(name=3)) == "x.yml: name: expected str, got 3 (int)"
    assert error(with_(datasets__train__gt_size="32")) == (
        "x.yml: datasets.train.gt_size: expected int or null, got '32' (str)"
    )
    assert error(with_(train="x")) == "x.yml: train: expected a mapping, got 'x' (str)"
    assert error(with_(datasets=[1])) == "x.yml: datasets: expected a mapping, got [1] (list)"


def test_bool_is_not_an_int_and_int_is_not_a_bool():
    assert error(with_(scale=True)) == "x.yml: scale: expected int, got True (bool)"
    assert error(with_(deterministic=1)) == "x.yml: deterministic: expected bool, got 1 (int)"
    assert (
        error(with_(train__grad_clip=True))
        == "x.yml: train.grad_clip: expected float or null, got True (bool)"
    )


def test_null_only_where_optional():
    assert error(with_(scale=None)) == "x.yml: scale: expected int, got None (NoneType)"
    assert error(with_(datasets__train__use_rot=None)) == (
        "x.yml: datasets.train.use_rot: expected bool, got None (NoneType)"
    )


def test_literal_lists_choices():
    assert error(with_(model_type="GAN")) == (
        "x.yml: model_type: expected one of 'SRModel', 'SRGANModel', 'ESRGANModel', got 'GAN' (str)"
    )
    assert error(with_(val={"metrics": {"psnr": {"type": "psnr", "better": "up"}}})) == (
        "x.yml: val.metrics.psnr.better: expected one of 'higher', 'lower' or null, got 'up' (str)"
    )
    assert error(with_(datasets__val__io_backend={"type": "zip"})) == (
        "x.yml: datasets.val.io_backend.type: expected one of 'disk', 'lmdb', got 'zip' (str)"
    )


def test_missing_required_keys_named():
    assert error(with_(name=...)) == "x.yml: top level: missing required key 'name'"
    assert error(with_(train__total_iter=...)) == "x.yml: train: missing required key 'total_iter'"
    assert error(with_(datasets__val__name=...)) == "x.yml: datasets.val: missing required key 'name'"
    assert error(with_(val={"metrics": {"psnr": {"crop_border": 4}}})) == (
        "x.yml: val.metrics.psnr: missing required key 'type'"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"datasets__train__dataroot_lr": "a"}, "datasets.train.dataroot_lr: renamed to dataroot_lq"),
        ({"datasets__val__HR_size": 4}, "datasets.val.HR_size: renamed to gt_size"),
        ({"network_G": {"type": "RRDBNet"}}, "network_G: renamed to network_g"),
        ({"train__niter": 5}, "train.niter: renamed to train.total_iter"),
        ({"train__lr_G": 1e-4}, "train.lr_G: renamed to train.optim_g.lr"),
        ({"num_gpu": 1}, "num_gpu: removed: the number of processes comes from torchrun"),
        ({"path__models": "x"}, "path.models: removed: checkpoints go to <experiments_root>/<name>/models"),
    ],
)
def test_basicsr_keys_name_their_replacement(changes, message):
    assert error(with_(**changes)).startswith(f"x.yml: {message}")


# --- rules between keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scale": 9}, "scale: 9 is out of range; expected 1..8"),
        ({"scale": 0}, "scale: 0 is out of range; expected 1..8"),
        ({"train__total_iter": 0}, "train.total_iter: 0 must be > 0"),
        ({"train__ema_decay": 1}, "train.ema_decay: 1.0 is out of range; expected 0 <= ema_decay < 1"),
        ({"train__ema_decay": -0.1}, "train.ema_decay: -0.1 is out of range; expected 0 <= ema_decay < 1"),
        ({"train__net_d_iters": 0}, "train.net_d_iters: 0 must be >= 1"),
        ({"datasets": {}}, "datasets.train: required for training (the training set)"),
        ({"datasets__train__gt_size": None}, "datasets.train.gt_size: required for the training set"),
        (
            {"datasets__train__gt_size": 30},
            "datasets.train.gt_size: 30 must be a positive multiple of scale 4",
        ),
        ({"datasets__val__gt_size": 6}, "datasets.val.gt_size: 6 must be a positive multiple of scale 4"),
        ({"datasets__train__lq_size": 6}, "datasets.train.lq_size: give gt_size or lq_size, not both"),
        (
            {"datasets__train__gt_size": None, "datasets__train__lq_size": 0},
            "datasets.train.lq_size: 0 must be positive",
        ),
        ({"datasets__val__dataroot_lq": ...}, "datasets.val.dataroot_lq: required for PairedImageDataset"),
        ({"datasets__train__dataroot_lq": "x"}, "datasets.train.dataroot_lq: HRImageDataset makes the LQ"),
        ({"datasets__train__dataroot_gt": ...}, "datasets.train.dataroot_gt: required for HRImageDataset"),
        ({"datasets__val": ..., "val": {"val_freq": 5}}, "val: needs at least one validation dataset"),
        ({"network_g__upscale": 2}, "network_g.upscale: 2 differs from scale: 4"),
    ],
)
def test_rules_name_the_key(changes, message):
    assert error(with_(**changes)).startswith(f"x.yml: {message}")


@pytest.mark.parametrize("model_type", ["SRGANModel", "ESRGANModel"])
def test_gan_models_need_discriminator_gan_loss_and_its_optimizer(model_type):
    net_d = {"type": "VGGStyleDiscriminator", "num_in_ch": 3, "num_feat": 8}
    gan = {"type": "GANLoss", "gan_type": "vanilla", "loss_weight": 5e-3}
    adam = {"type": "Adam", "lr": 1e-4}
    assert error(with_(model_type=model_type)) == f"x.yml: network_d: required for model_type {model_type}"
    assert error(with_(model_type=model_type, network_d=net_d)) == (
        f"x.yml: train.gan_opt: required for model_type {model_type}"
    )
    assert error(with_(model_type=model_type, network_d=net_d, train__gan_opt=gan)) == (
        f"x.yml: train.optim_d: required for model_type {model_type}"
    )
    # with all three the rules pass; an error, if any, now comes from a component registry
    try:
        options_from_dict(
            with_(model_type=model_type, network_d=net_d, train__gan_opt=gan, train__optim_d=adam)
        )
    except OptionsError as err:
        assert "required for model_type" not in str(err)
    except ImportError:
        pass  # the optimizer/loss registries are not importable yet


# --- overrides ---------------------------------------------------------------------------------------


def test_values_parse_as_yaml():
    assert parse_value("2e-4") == 2e-4 and isinstance(parse_value("2e-4"), float)
    assert [parse_value(v) for v in ("6", "true", "null", "[9, 5, 5]", "abc", "", "'7'")] == [
        6,
        True,
        None,
        [9, 5, 5],
        "abc",
        "",
        "7",
    ]
    # sr-eval's --net-opt goes through the same parser
    assert parse_net_opt(["lr=1e-4", "k=[1, 2]"]) == {"lr": 1e-4, "k": [1, 2]}


def test_overrides_set_nested_keys_and_create_sections():
    data = apply_overrides(
        BASE,
        [
            "train.optim_g.lr=2e-4",
            "datasets.train.gt_size=null",
            "val.val_freq=5",
            "network_g.num_block=2",
            "name=run b",
        ],
    )
    assert data["train"]["optim_g"] == {"type": "Adam", "lr": 2e-4}
    assert data["datasets"]["train"]["gt_size"] is None
    assert data["val"] == {"val_freq": 5}
    assert data["network_g"]["num_block"] == 2 and data["name"] == "run b"
    assert BASE["train"]["optim_g"]["lr"] == 1e-4 and "val" not in BASE  # input untouched


def test_overrides_index_lists_of_sections():
    """Mixed-source recipes keep their sources in a list: ``sources.N.key`` reaches into one."""
    base = {"datasets": {"train": {"sources": [{"name": "a", "share": 0.5}, {"name": "b"}]}}}
    sets = ["datasets.train.sources.1.dataroot_gt=/tmp/x", "datasets.train.sources.0=null"]
    data = apply_overrides(base, sets)
    assert data["datasets"]["train"]["sources"] == [None, {"name": "b", "dataroot_gt": "/tmp/x"}]
    assert base["datasets"]["train"]["sources"][0] == {"name": "a", "share": 0.5}  # input untouched
    for bad in ("datasets.train.sources.2.share=1", "datasets.train.sources.x.share=1"):
        with pytest.raises(ValueError, match=r"train\.sources is a list of 2; index it with 0 to 1"):
            apply_overrides(base, [bad])


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("train.total_iter", "--set expects key=value, got 'train.total_iter'"),
        ("=3", "--set expects key=value, got '=3'"),
        ("train..lr=1", "--set 'train..lr=1': empty key in 'train..lr'"),
        ("scale.x=1", "--set 'scale.x=1': scale is 4, not a section with keys"),
        ("train.total_iter.a.b=1", "--set 'train.total_iter.a.b=1': train.total_iter is 10, not a section"),
        ("network_g.num_block=[1, 2", "--set 'network_g.num_block=[1, 2': cannot read the value"),
    ],
)
def test_bad_overrides_name_the_item(tmp_path, item, message):
    path = write(tmp_path, BASE_YAML)
    with pytest.raises(OptionsError) as info:
        load_options(path, [item])
    assert str(info.value).startswith(f"{path}: {message}")


def test_overrides_go_through_the_same_checks(tmp_path):
    path = write(tmp_path, BASE_YAML)
    cases = {
        "network_g.num_blok=2": "network_g: unknown key 'num_blok'; allowed: num_block, num_feat, num_in_ch, "
        "num_out_ch, type, upscale",
        "train.total_iter=abc": "train.total_iter: expected int, got 'abc' (str)",
        "train.total_iterr=5": "train: unknown key 'total_iterr'; allowed: channels_last, compile, ",
        "datasets.train.gt_size=null": "datasets.train.gt_size: required for the training set",
        "datasets.train.dataroot_lr=x": "datasets.train.dataroot_lr: renamed to dataroot_lq",
        "scale=true": "scale: expected int, got True (bool)",
    }
    for item, message in cases.items():
        with pytest.raises(OptionsError) as info:
            load_options(path, [item])
        assert str(info.value).startswith(f"{path}: {message}"), item


# --- complete loads (need the optimizer and loss registries) -------------------------------------------


def test_load_with_overrides(tmp_path, registries):
    path = write(tmp_path, BASE_YAML)
    opt = load_options(path, ["train.optim_g.lr=2e-4", "network_g.num_block=2", "train.ema_decay=0"])
    assert isinstance(opt, Options)
    assert opt.train.optim_g == {"type": "Adam", "lr": 2e-4}
    assert opt.network_g == {"type": "MSRResNet", "num_feat": 8, "num_block": 2, "upscale": 4}
    assert opt.train.ema_decay == 0.0 and isinstance(opt.train.ema_decay, float)  # int accepted as float
    assert opt.datasets["train"].gt_size == 32 and opt.datasets["train"].type == "HRImageDataset"
    assert opt.path.experiments_root == "experiments" and opt.val is None  # defaults


def test_optimizer_kwargs_checked(registries):
    message = error(with_(train__optim_g={"type": "Adam", "lr": 1e-4, "beta": [0.9, 0.99]}))
    assert message.startswith("x.yml: train.optim_g: unknown key 'beta'; allowed: ")
    assert "betas" in message and "type" in message and "weight_decay" in message
    assert error(with_(train__optim_g={"type": "Adamm"})).startswith(
        "x.yml: train.optim_g.type: unknown type 'Adamm'; choose one of Adam, AdamW"
    )


def test_loss_type_checked(registries):
    assert error(with_(train__pixel_opt={"type": "L3Loss"})).startswith(
        "x.yml: train.pixel_opt.type: unknown type 'L3Loss'; choose one of "
    )


def test_no_training_set_when_not_training(registries):
    opt = options_from_dict(with_(datasets__train=...), require_train=False)
    assert list(opt.datasets) == ["val"]


def test_dump_load_round_trip(tmp_path, registries):
    data = with_(
        name="1e-4",  # a string the loader would read as a float unless dump quotes it
        val={"val_freq": 5, "metrics": {"psnr": {"type": "psnr", "crop_border": 4}}},
        train__scheduler={"type": "MultiStepLR", "milestones": [5, 8], "gamma": 0.5},
        train__optim_g={"type": "Adam", "lr": 1e-4, "betas": [0.9, 0.99]},
        train__ema_decay=0.999,
        path__pretrain_network_g="a b/c.pth",
    )
    opt = options_from_dict(data)
    text = dump_options(opt)
    path = write(tmp_path, text, "resolved.yml")
    again = load_options(path)
    assert again == opt
    assert again.name == "1e-4" and again.train.optim_g["betas"] == [0.9, 0.99]
    assert dump_options(again) == text


def test_arguments_the_builder_supplies_are_rejected(registries):
    # build_optimizer passes params, build_scheduler optimizer and warmup_iter: set in the file they
    # would be overridden silently
    message = error(with_(train__optim_g={"type": "Adam", "params": [1]}))
    assert message.startswith("x.yml: train.optim_g: unknown key 'params'; allowed: ")
    assert "params" not in message.split("allowed: ")[1].split(", ")
    sched = {"type": "MultiStepLR", "milestones": [5], "warmup_iter": 3}
    assert (
        error(with_(train__scheduler=sched))
        == "x.yml: train.scheduler.warmup_iter: moved to train.warmup_iter"
    )
    message = error(with_(train__scheduler={"type": "MultiStepLR", "milestones": [5], "optimizer": "x"}))
    assert message == (
        "x.yml: train.scheduler: unknown key 'optimizer'; "
        "allowed: gamma, milestones, restart_weights, restarts, type"
    )
