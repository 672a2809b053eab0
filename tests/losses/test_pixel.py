"""Pixel losses against hand computations (numpy) and BasicSR's weighted-mean convention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr.losses import LOSSES, CharbonnierLoss, L1Loss, MSELoss, build_loss


def _pair():
    g = torch.Generator().manual_seed(1)
    return torch.rand(2, 3, 8, 8, generator=g, dtype=torch.float64), torch.rand(
        2, 3, 8, 8, generator=g, dtype=torch.float64
    )


def test_unweighted_equal_numpy():
    p, t = _pair()
    d = p.numpy() - t.numpy()
    assert L1Loss()(p, t).item() == pytest.approx(np.abs(d).mean(), rel=1e-12)
    assert MSELoss()(p, t).item() == pytest.approx((d**2).mean(), rel=1e-12)
    assert CharbonnierLoss(eps=1e-3)(p, t).item() == pytest.approx(np.sqrt(d**2 + 1e-3).mean(), rel=1e-12)
    assert L1Loss(loss_weight=0.5, reduction="sum")(p, t).item() == pytest.approx(0.5 * np.abs(d).sum())
    none = MSELoss(loss_weight=2.0, reduction="none")(p, t)
    np.testing.assert_allclose(none.numpy(), 2 * d**2, rtol=1e-12)


def test_weighted_mean_is_normalised_by_the_weight():
    p, t = _pair()
    d = np.abs(p.numpy() - t.numpy())
    w = (torch.arange(2 * 8 * 8, dtype=torch.float64).view(2, 1, 8, 8) % 3).double()
    wn = w.numpy()
    # 1-channel weight broadcast over 3 channels: sum(w * d) / (3 * sum(w)) (BasicSR's weight_reduce_loss)
    assert L1Loss()(p, t, w).item() == pytest.approx((wn * d).sum() / (3 * wn.sum()), rel=1e-12)
    w3 = w.expand(2, 3, 8, 8)
    assert L1Loss()(p, t, w3).item() == pytest.approx((wn * d).sum() / (3 * wn.sum()), rel=1e-12)
    assert L1Loss(reduction="sum")(p, t, w).item() == pytest.approx((wn * d).sum(), rel=1e-12)


def test_charbonnier_default_eps_is_l1_away_from_zero_and_smooth_at_zero():
    p, t = _pair()
    assert CharbonnierLoss()(p, t).item() == pytest.approx(L1Loss()(p, t).item(), rel=1e-9)
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    CharbonnierLoss()(x, torch.zeros(1, 1, 2, 2)).backward()
    assert torch.isfinite(x.grad).all() and (x.grad == 0).all()


def test_errors():
    with pytest.raises(ValueError, match="reduction 'avg'"):
        L1Loss(reduction="avg")
    with pytest.raises(ValueError, match="shapes differ"):
        L1Loss()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))


def test_build_loss_checks_type_and_keys():
    assert set(LOSSES) == {
        "L1Loss",
        "MSELoss",
        "CharbonnierLoss",
        "SSIMLoss",
        "PerceptualLoss",
        "GANLoss",
        "FeatureMatchingLoss",
        "FourierLoss",
    }
    loss = build_loss({"type": "CharbonnierLoss", "loss_weight": 2.0, "eps": 1e-6}, "train.pixel_opt")
    assert isinstance(loss, CharbonnierLoss) and loss.loss_weight == 2.0 and loss.eps == 1e-6
    with pytest.raises(
        ValueError, match=r"train\.pixel_opt\.type: unknown type 'L3Loss'; choose one of .*L1Loss"
    ):
        build_loss({"type": "L3Loss"}, "train.pixel_opt")
    with pytest.raises(
        ValueError, match=r"train\.pixel_opt: unknown key 'eps'; allowed: loss_weight, reduction"
    ):
        build_loss({"type": "L1Loss", "eps": 1.0}, "train.pixel_opt")
