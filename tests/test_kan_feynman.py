"""The AI Feynman equation table and the feynman task."""

import csv
import math

import numpy as np
import pytest
from pydantic import ValidationError

from toolkit import RunContext
from toolkit_kan import KAN
from toolkit_kan.feynman import DEFAULT_EQUATIONS, Feynman, load_equations


@pytest.fixture(scope="module")
def equations():
    return load_equations()


def test_table_has_100_rows_that_evaluate(equations):
    assert len(equations) == 100
    rng = np.random.default_rng(0)
    for equation in equations.values():
        inputs, outputs = equation.sample(50, rng)
        assert inputs.shape == (50, len(equation.variables))
        assert np.isfinite(outputs).all(), equation.equation_id
        assert np.all(inputs >= equation.lows)
        assert np.all(inputs <= equation.highs)


def test_declared_count_quirk_uses_listed_variables(equations):
    equation = equations["I.18.12"]
    assert equation.declared_n_variables == 2
    assert equation.variables == ("r", "F", "theta")
    r, force, theta = 2.0, 3.0, 0.7
    result = equation.function(np.array([r]), np.array([force]), np.array([theta]))
    assert float(result[0]) == pytest.approx(r * force * math.sin(theta))
    # II.37.1 declares more variables than it lists.
    assert equations["II.37.1"].declared_n_variables == 6
    assert equations["II.37.1"].variables == ("mom", "B", "chi")


def test_sympy_names_read_as_variables(equations):
    # "E_n" and "I"-like names must not become sympy constants.
    for equation in equations.values():
        symbols = {str(s) for s in _free_symbols(equation)}
        assert symbols <= set(equation.variables), equation.equation_id


def _free_symbols(equation):
    import sympy
    from sympy.parsing.sympy_parser import parse_expr

    local = {name: sympy.Symbol(name) for name in equation.variables}
    local.update(arcsin=sympy.asin, ln=sympy.log)
    return parse_expr(equation.formula, local_dict=local).free_symbols


def test_formula_matches_closed_form(equations):
    equation = equations["I.6.2"]
    sigma, theta = np.array([1.5, 2.0]), np.array([1.0, 2.5])
    expected = np.exp(-((theta / sigma) ** 2) / 2) / (np.sqrt(2 * np.pi) * sigma)
    np.testing.assert_allclose(equation.function(sigma, theta), expected)


def test_custom_csv_with_extra_listed_variable(tmp_path):
    header = ["Filename", "Number", "Output", "Formula", "# variables"]
    for index in range(1, 11):
        header += [f"v{index}_name", f"v{index}_low", f"v{index}_high"]
    row = ["X.1", "1", "y", "a*b+c", "2", "a", "1", "2", "b", "0", "1", "c", "3", "4"]
    row += [""] * (len(header) - len(row))
    path = tmp_path / "table.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(row)
    equation = load_equations(path)["X.1"]
    assert equation.variables == ("a", "b", "c")
    assert equation.lows == (1.0, 0.0, 3.0)
    assert float(equation.function(2.0, 0.5, 3.5)) == pytest.approx(4.5)


def test_default_subset_sizes(equations):
    assert len(DEFAULT_EQUATIONS) == 12
    for equation_id in DEFAULT_EQUATIONS:
        assert 2 <= len(equations[equation_id].variables) <= 5


def test_unknown_equation_rejected():
    with pytest.raises(ValidationError, match="unknown Feynman equation ids"):
        Feynman({"equations": ["I.6.2", "Z.99"]})


def test_task_reports_declared_metrics(tmp_path):
    task = Feynman(
        {
            "equations": ["I.14.3", "I.18.12"],
            "n_train": 200,
            "n_test": 200,
            "training": {"optimizer": "lbfgs", "lr": 1.0, "steps": 5, "eval_every": 5},
        }
    )
    architecture = KAN({"hidden": [3], "grid": 3})
    metrics = task.run(
        {"architecture": architecture}, RunContext(seed=0, artifacts=tmp_path)
    )
    assert set(metrics) == {metric.name for metric in Feynman.metrics}
    # Targets are standardised, so predicting the mean scores 1.
    assert metrics["test_rmse"] < 0.5
    with (tmp_path / "feynman.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["equation"] for row in rows] == ["I.14.3", "I.18.12"]
