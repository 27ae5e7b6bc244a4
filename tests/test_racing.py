"""``gradstep.race`` (each racer is exactly its ``gradstep.fit``) and its figure."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from test_plots import all_text, texts_outside

import gradstep
from gradstep.plots.figure import FigureAxes
from gradstep.plots.optimizers import race_figure


@pytest.fixture(scope="module")
def three():
    return gradstep.make_data(n=150, true_w=[2.0, -1.0, 0.5], seed=5)


@pytest.fixture(scope="module")
def raced(three):
    return gradstep.race(three.x_train, three.y_train,
                         optimizers=["sgd", "momentum", {"name": "adam", "amsgrad": True}, "sgd"],
                         lr=[0.1, 0.1, 0.05, 5.0], epochs=300, tol=1e-6, seed=3)  # fmt: skip


def test_each_path_is_its_fit(three, raced):
    specs = ["sgd", "momentum", {"name": "adam", "amsgrad": True}]
    for racer, spec, lr in zip(raced.racers, specs, [0.1, 0.1, 0.05], strict=False):
        want = gradstep.fit(three.x_train, three.y_train, lr=lr, epochs=300, tol=1e-6, seed=3,
                            optimizer=spec)  # fmt: skip
        assert racer.result is not None and racer.reason != "diverged"
        assert np.array_equal(racer.theta[0], np.r_[want.init_b, want.init_w])
        assert np.array_equal(racer.theta[1:, 0], want.history.b)
        assert np.array_equal(racer.theta[1:, 1:], want.history.w)
        assert racer.reason == ("tol" if want.history.converged else "epochs")
        assert racer.optimizer == want.extra["optimizer"]
    assert [r.label for r in raced.racers] == ["sgd, lr 0.1", "momentum, lr 0.1",
                                               "adam, lr 0.05", "sgd, lr 5"]  # fmt: skip
    assert raced.racers[1].reason == "tol"  # momentum certifies within 300 epochs here


def test_a_diverging_racer_is_marked_with_its_epoch(three, raced):
    racer = raced.racers[3]
    with pytest.raises(gradstep.DivergenceError) as caught:
        gradstep.fit(three.x_train, three.y_train, lr=5.0, epochs=300, tol=1e-6, seed=3)
    assert racer.reason == "diverged" and racer.diverged_at == caught.value.epoch
    assert racer.outcome == f"diverged at epoch {caught.value.epoch}"
    assert racer.message == str(caught.value)
    before = gradstep.fit(three.x_train, three.y_train, lr=5.0, epochs=racer.diverged_at - 1,
                          tol=1e-6, seed=3)  # fmt: skip
    assert np.array_equal(racer.theta[1:, 0], before.history.b)
    assert np.isfinite(racer.theta).all()


def test_race_figure_draws_the_slice_moved_most_and_nothing_sticks_out(raced):
    pair = race_figure(raced, names=["alpha", "beta", "gamma"])
    assert isinstance(pair, FigureAxes)
    fig, (ax_paths, ax_loss) = pair
    p, r = raced.most_moved()
    labels = ["b", "w_0 (alpha)", "w_1 (beta)", "w_2 (gamma)"]
    assert ax_paths.get_xlabel() == labels[p] and ax_paths.get_ylabel() == labels[r]
    assert texts_outside(fig) == []
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    for legend in fig.legends:
        box = legend.get_window_extent(canvas.get_renderer())
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    text = all_text(fig)
    for racer in raced.racers:
        assert f"{racer.label}: {racer.outcome}" in text
    assert "other 2 coefficient(s) at their optimum" in text
    assert ax_loss.get_yscale() == "log"
    # every racer that did not diverge is inside the loss panel
    low, high = ax_loss.get_ylim()
    for racer in raced.racers[:3]:
        excess = raced.excess(racer)
        excess = excess[excess > 0]
        assert low <= excess.min() and excess.max() <= high


def test_one_feature_shows_b_and_w(raced):
    data = gradstep.make_data(n=60, seed=1)
    one = gradstep.race(data.x_train, data.y_train, optimizers="adam", lr=0.1, epochs=20)
    fig, (ax, _) = race_figure(one)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("b", "w") and texts_outside(fig) == []


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"optimizers": []}, "optimizers is empty"),
        ({"optimizers": ["sgd", "adam"], "lr": [0.1]}, "1 rate(s) for 2 optimizer(s)"),
        ({"optimizers": ["adamw"]}, "not known"),
        ({"lr": -1.0}, "lr=-1.0 must be"),
    ],
)
def test_bad_races_are_one_line_errors(three, kwargs, fragment):
    with pytest.raises(gradstep.GradstepError) as caught:
        gradstep.race(three.x_train, three.y_train, **kwargs)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
