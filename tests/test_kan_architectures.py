"""Configs of the kan and mlp Architectures, and parameter matching."""

import pytest
import torch
from pydantic import ValidationError

from toolkit.plugins import PluginManager
from toolkit_kan import (
    KAN,
    MLP,
    KANConfig,
    count_kan_parameters,
    count_mlp_parameters,
    mlp_matching_kan,
)


def n_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"grid": 0}, "grid"),
        ({"spline_order": 0}, "spline_order"),
        ({"hidden": [4, 0]}, "widths of at least 1"),
        ({"grid_range": (1.0, -1.0)}, "grid_range must be increasing"),
        ({"grid_range": (-1e308, 1e308)}, "rescale the inputs"),
        ({"grid_range": (0.0, 1e-300)}, "float32 knots cannot resolve"),
        ({"grid_range": (0.0, 1e-4), "grid": 20}, "knot spacing of 5e-06"),
        ({"grid_schedule": [10], "grid_milestones": []}, "same length"),
        ({"grid": 5, "grid_schedule": [5], "grid_milestones": [10]}, "must increase"),
        ({"grid_schedule": [10, 20], "grid_milestones": [50, 20]}, "grid_milestones"),
        ({"grid_eps": 1.5}, "grid_eps"),
        ({"grids": 5}, "grids"),
    ],
)
def test_invalid_kan_config(config, message):
    with pytest.raises(ValidationError, match=message):
        KAN(config)


def test_width_mismatch_names_fix():
    architecture = KAN({"width": [2, 5, 1]})
    with pytest.raises(
        ValueError,
        match=r"task has 3 inputs and 1 output; set width to \[3, \.\.\., 1\]",
    ):
        architecture.build(3, 1)
    assert architecture.build(2, 1)(torch.zeros(4, 2)).shape == (4, 1)


@pytest.mark.parametrize("architecture", [KAN(), MLP()])
@pytest.mark.parametrize("dims", [(0, 1), (2, 0), (2.5, 1)])
def test_invalid_dimensions(architecture, dims):
    with pytest.raises(ValueError, match="positive integer"):
        architecture.build(*dims)


def test_mlp_rejects_widths_and_match():
    with pytest.raises(ValidationError, match="either match_kan or the widths"):
        MLP({"hidden": [8], "match_kan": {"grid": 5}})
    with pytest.raises(ValidationError, match="activation"):
        MLP({"activation": "gelu"})


@pytest.mark.parametrize("activation", ["relu", "tanh", "silu"])
def test_mlp_builds_with_activation(activation):
    model = MLP({"hidden": [7, 6], "activation": activation}).build(3, 2)
    assert model(torch.zeros(5, 3)).shape == (5, 2)
    assert n_trainable(model) == count_mlp_parameters([3, 7, 6, 2])
    kinds = {type(module).__name__ for module in model}
    assert {"ReLU": "relu", "Tanh": "tanh", "SiLU": "silu"}.keys() & kinds


@pytest.mark.parametrize(
    ("kan_config", "dims"),
    [
        ({"hidden": [5], "grid": 5}, (2, 1)),
        ({"hidden": [], "grid": 200}, (1, 1)),
        (
            {
                "hidden": [8, 8],
                "grid": 10,
                "grid_schedule": [20],
                "grid_milestones": [5],
            },
            (4, 2),
        ),
    ],
)
@pytest.mark.parametrize("depth", [1, 3])
def test_mlp_matches_kan_parameter_count(kan_config, dims, depth):
    kan_architecture = KAN(kan_config)
    model = kan_architecture.build(*dims)
    if kan_architecture.config.grid_schedule:
        x = torch.rand(500, dims[0]) * 2 - 1
        model.update_grid(x)
        model.extend_grid(x, kan_architecture.config.final_grid)
    kan_count = n_trainable(model)
    assert count_kan_parameters(kan_architecture.config, *dims) == kan_count

    mlp_config = mlp_matching_kan(kan_config, *dims, depth=depth)
    width = mlp_config.hidden[0]
    assert mlp_config.hidden == [width] * depth

    def count(w):
        return count_mlp_parameters([dims[0], *[w] * depth, dims[1]])

    mlp_count = n_trainable(MLP(mlp_config).build(*dims))
    assert mlp_count == count(width)
    assert abs(count(width) - kan_count) <= abs(count(width + 1) - kan_count)
    if width > 1:
        assert abs(count(width) - kan_count) <= abs(count(width - 1) - kan_count)


def test_mlp_match_kan_config_builds_matched():
    architecture = MLP({"match_kan": {"hidden": [5], "grid": 5}, "match_depth": 2})
    expected = mlp_matching_kan(KANConfig(hidden=[5], grid=5), 3, 1, depth=2)
    assert n_trainable(architecture.build(3, 1)) == count_mlp_parameters(
        [3, *expected.hidden, 1]
    )


def test_plugin_registers_components():
    manager = PluginManager(strict=True)
    manager.load_module("toolkit_kan.plugin")
    names = {(entry.kind, entry.name) for entry in manager.components()}
    assert {("architecture", "kan"), ("architecture", "mlp")} <= names
    assert {("task", "spectral-bias"), ("task", "grf"), ("task", "feynman")} <= names


def test_mlp_config_survives_round_trip():
    config = MLP({"match_kan": {"hidden": [5], "grid": 5}}).config
    again = MLP(config.model_dump())
    assert again.config == config
    assert MLP(MLP().config.model_dump()).config == MLP().config


def test_plugin_import_does_not_load_torch():
    import subprocess
    import sys

    code = "import sys, toolkit_kan.plugin; print('torch' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["kan", "mlp", "spectral-bias", "grf", "feynman"])
def test_components_pass_conformance_kit(name):
    from toolkit.testing import check_component

    manager = PluginManager(strict=True)
    manager.load_module("toolkit_kan.plugin")
    entries = [entry for entry in manager.components() if entry.name == name]
    assert len(entries) == 1
    check_component(entries[0].cls)
