"""Learning-rate schedules against hand-computed values, and their exact resume."""

from __future__ import annotations

import math

import pytest
import torch

from sr.models.optim import build_optimizer, build_scheduler


def rates(section, n, warmup=-1, lr=1.0):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer([p], {"type": "SGD", "lr": lr}, "train.optim_g")
    sched = build_scheduler(opt, section, warmup, "train.scheduler")
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out, opt, sched


def test_multistep_halves_after_each_milestone():
    lrs, _, _ = rates({"type": "MultiStepLR", "milestones": [2, 4], "gamma": 0.5}, 6)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_multistep_restart():
    section = {"type": "MultiStepLR", "milestones": [2, 5], "gamma": 0.5, "restarts": [4],
               "restart_weights": [0.8]}  # fmt: skip
    lrs, _, _ = rates(section, 7)
    # steps 0-1: 1; 2-3: 0.5; restart at 4: 0.8; milestone 5 after the restart: 0.4
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.8, 0.4, 0.4])


def test_cosine_restart_matches_sgdr_formula():
    lrs, _, _ = rates({"type": "CosineAnnealingRestartLR", "periods": [4, 4], "restart_weights": [1, 0.5],
                       "eta_min": 0.1}, 8)  # fmt: skip
    expect = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(4)]
    expect += [0.1 + 0.5 * 0.9 * 0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(4)]
    assert lrs == pytest.approx(expect)


def test_linear_warmup_from_base_over_warmup_iter():
    lrs, _, _ = rates(None, 5, warmup=4)
    assert lrs == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])


def test_scheduler_state_resumes_exactly():
    section = {"type": "MultiStepLR", "milestones": [3], "gamma": 0.1}
    _, opt, sched = rates(section, 2)
    p = torch.nn.Parameter(torch.zeros(1))
    opt2 = build_optimizer([p], {"type": "SGD", "lr": 1.0}, "x")
    sched2 = build_scheduler(opt2, section, -1, "x")
    opt2.load_state_dict(opt.state_dict())  # as a training state is restored: optimizer, then schedule
    sched2.load_state_dict(sched.state_dict())
    seen = []
    for _ in range(3):
        seen.append(opt2.param_groups[0]["lr"])
        opt2.step()
        sched2.step()
    assert seen == pytest.approx([1.0, 0.1, 0.1])


def test_a_resumed_run_follows_its_recipes_schedule():
    """The state holds the step count only: resuming with a schedule extended by a restart period (how
    options/default_x234.yml can be trained further) gives the new schedule's rates from the first
    resumed step, equal to a run that had the longer schedule from the start."""
    short = {"type": "CosineAnnealingRestartLR", "periods": [4], "restart_weights": [1], "eta_min": 0.0}
    longer = {**short, "periods": [4, 4], "restart_weights": [1, 0.5]}
    _, opt, sched = rates(short, 4)
    assert sched.state_dict() == {"last_epoch": 4, "_step_count": 5}
    whole, _, _ = rates(longer, 8)
    p = torch.nn.Parameter(torch.zeros(1))
    opt2 = build_optimizer([p], {"type": "SGD", "lr": 1.0}, "x")
    sched2 = build_scheduler(opt2, longer, -1, "x")
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict({**sched.__dict__, "optimizer": None})  # also a state that saved everything
    seen = []
    for _ in range(4):
        seen.append(opt2.param_groups[0]["lr"])
        opt2.step()
        sched2.step()
    assert seen == pytest.approx(whole[4:])


def test_unknown_optimizer_and_key_are_named():
    p = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError, match=r"train.optim_g.type: unknown type 'Adamm'.*Adam"):
        build_optimizer(p, {"type": "Adamm", "lr": 1}, "train.optim_g")
    with pytest.raises(ValueError, match=r"train.optim_g: unknown key 'beta'"):
        build_optimizer(p, {"type": "Adam", "beta": 1}, "train.optim_g")
