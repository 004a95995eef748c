"""Error diagnostics for a classifier: where and how it is wrong.

All functions take plain tensors: ``y_true`` (N,) int64 labels, ``y_pred`` (N,) predicted labels,
or ``probs`` (N, K) softmax probabilities. Figures for them are in :mod:`minitorch_vision.plots`.
"""
import torch


def confusion_matrix(y_true, y_pred, num_classes):
    """(K, K) int64 counts; row = true class, column = predicted class."""
    idx = y_true.long() * num_classes + y_pred.long()
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_accuracy(cm):
    """(K,) recall of each class from a confusion matrix (NaN for a class with no examples)."""
    cm = cm.double()
    return cm.diagonal() / cm.sum(1)


def most_confused_pairs(cm, k=5):
    """The ``k`` largest off-diagonal cells: list of ``(true, predicted, count)``, largest first."""
    off = cm.clone()
    off.fill_diagonal_(0)
    counts, flat = off.flatten().topk(min(k, off.numel()))
    K = cm.shape[0]
    return [(int(i) // K, int(i) % K, int(c)) for c, i in zip(counts, flat) if c > 0]


def worst_mistakes(probs, y_true, k=16):
    """Indices of the ``k`` most confident wrong predictions, most confident first.

    A mistake's confidence is the probability the model gave its (wrong) predicted class.
    Returns: (idx (k',), predicted (k',), confidence (k',)) with k' <= k.
    """
    conf, pred = probs.max(1)
    wrong = (pred != y_true).nonzero().squeeze(1)
    order = conf[wrong].argsort(descending=True)[:k]
    idx = wrong[order]
    return idx, pred[idx], conf[idx]


def diagnose(probs, y_true, class_names, k_mistakes=24, k_pairs=5):
    """Everything lesson 02/03's diagnostics figures draw, computed once.

    Args:
        probs: (N, K) softmax probabilities; y_true: (N,) int64 labels; class_names: K names.
    Returns:
        dict with ``confusion_matrix`` (K, K) int64, ``per_class_accuracy`` (K,) float64,
        ``mistakes``: the ``k_mistakes`` most confident wrong predictions as a dict of (k,) tensors
        ``index``, ``predicted``, ``confidence`` (see :func:`worst_mistakes`) and ``true``, and
        ``summary``: JSON-friendly accuracy, per-class accuracy and the ``k_pairs`` most-confused pairs.
    """
    pred = probs.argmax(1)
    cm = confusion_matrix(y_true, pred, len(class_names))
    acc = per_class_accuracy(cm)
    summary = {
        "accuracy": (pred == y_true).double().mean().item(),
        "per_class_accuracy": {n: round(a.item(), 4) for n, a in zip(class_names, acc)},
        "most_confused": [{"true": class_names[t], "predicted": class_names[p], "count": c}
                          for t, p, c in most_confused_pairs(cm, k_pairs)],
    }
    idx, wrong, conf = worst_mistakes(probs, y_true, k_mistakes)
    mistakes = {"index": idx, "predicted": wrong, "confidence": conf, "true": y_true[idx]}
    return {"confusion_matrix": cm, "per_class_accuracy": acc, "mistakes": mistakes, "summary": summary}
