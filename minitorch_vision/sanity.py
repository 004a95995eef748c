"""Is a saliency map about the model at all? The model-randomisation test of Adebayo et al. 2018
("Sanity Checks for Saliency Maps", arXiv:1810.03292), for the Grad-CAM maps of :mod:`.gradcam`.

Re-initialise the model's layers one at a time from the head down (cumulatively, on a copy) and
compare each new map with the original by Spearman rank correlation (ranks, not values: a map is
read as "where is it hottest", and Grad-CAM maps are min-max scaled anyway):

    rho = 1    the map did not change: it does not depend on those weights (the check FAILS;
               Adebayo et al. found Guided Backprop behaving so, like an edge detector)
    rho -> 0   the map changed with the weights: it explains this model (the check PASSES)

Grad-CAM should pass as soon as the layers above and at its CAM layer are random: its weights
alpha_k come from the gradient through the head, its maps A_k from the layers below.
"""
import copy

import torch

from .errors import MTVError
from .gradcam import ClassTarget, grad_cam


def rank(x):
    """Ranks (1..n) of the values of a 1-D tensor, ties given their average rank (as Spearman's
    rho needs: a CAM has many exact zeros where the ReLU clipped)."""
    order = torch.argsort(x)
    _, inverse, counts = torch.unique_consecutive(x[order], return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(torch.float64)                 # last rank of each tie group
    avg = ends - (counts.to(torch.float64) - 1) / 2                 # mean rank of the group
    r = torch.empty_like(x, dtype=torch.float64)
    r[order] = avg[inverse]
    return r


def spearman(a, b):
    """Spearman rank correlation of two maps (any shape, same numel): the Pearson correlation of
    their ranks. A constant map has no ordering: 1.0 if both maps are equal, else 0.0."""
    a, b = a.detach().reshape(-1).cpu(), b.detach().reshape(-1).cpu()
    ra, rb = rank(a), rank(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = ra.norm() * rb.norm()
    if den == 0:
        return 1.0 if torch.equal(a, b) else 0.0
    return float((ra @ rb) / den)


def randomization_order(model):
    """Names of the modules that hold parameters of their own, from the head (output) down."""
    names = [n for n, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    return names[::-1]


def cascading_randomization(model, layer, x, targets=None, stop_at=None, seed=0, keep_maps=False):
    """Re-initialise layers one at a time from the head down (cumulatively, on a copy of ``model``)
    and measure how far the Grad-CAM maps at ``layer`` (a dotted name) move from the original.

    The targets are fixed to the *original* model's (top-1 by default), so only the weights
    change. Re-initialisation is each module's own ``reset_parameters()`` under ``seed``.

    Returns: a list of ``{"randomized": module name, "rank_correlation": mean over images of
    Spearman(original map, map after this and all earlier steps)}``, one per step, down to and
    including ``stop_at`` (a module name; default: all the way to the input). The first row,
    ``"randomized": None``, is a second run of the unchanged model (1.0 for a deterministic map).
    Each row also has ``per_image`` correlations, and with ``keep_maps`` the ``heatmap`` (N, H, W).
    """
    if not isinstance(layer, str):  # the copy has its own modules: only a name finds the same layer there
        raise MTVError("cascading_randomization needs the layer's dotted name (e.g. 'features.1'), not the module")
    base = grad_cam(model, layer, x, targets)
    fixed = [ClassTarget(c) for c in base.classes] if base.classes is not None else targets
    work = copy.deepcopy(model)
    rows = []

    def compare(tag):
        res = grad_cam(work, layer, x, fixed)
        r = [spearman(a, b) for a, b in zip(base.heatmap, res.heatmap)]
        rows.append({"randomized": tag, "rank_correlation": sum(r) / len(r), "per_image": r})
        if keep_maps:
            rows[-1]["heatmap"] = res.heatmap

    compare(None)
    order = [n for n in randomization_order(work) if hasattr(work.get_submodule(n), "reset_parameters")]
    if stop_at is not None:  # stop once every module inside ``stop_at`` has been re-initialised
        order = order[:_last_inside(order, stop_at) + 1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in order:
            work.get_submodule(name).reset_parameters()  # BatchNorm: also its running stats
            compare(name)
    return rows


def _last_inside(order, name):
    inside = [i for i, n in enumerate(order) if n == name or n.startswith(name + ".")]
    if not inside:
        raise MTVError(f"{name!r} holds no parameters to re-initialise")
    return inside[-1]


def cascade_summary(rows, layer):
    """The numbers a reader of the check looks at, from :func:`cascading_randomization`'s ``rows``.

    Returns ``{"layer", "unchanged", "after_cam_layer", "after_all", "cam_step", "steps"}``:
    the mean rank correlation of the unchanged model (1.0), once everything down to and including
    the CAM ``layer`` is random (``cam_step`` is that row's index), and with every layer random;
    ``steps`` lists each row's module and correlation.
    """
    names = [r["randomized"] for r in rows]
    at = _last_inside(names[1:], layer) + 1   # row 0 is the unchanged model
    return {"layer": layer, "unchanged": rows[0]["rank_correlation"], "cam_step": at,
            "after_cam_layer": rows[at]["rank_correlation"], "after_all": rows[-1]["rank_correlation"],
            "steps": [{"randomized": r["randomized"], "rank_correlation": r["rank_correlation"]} for r in rows]}
