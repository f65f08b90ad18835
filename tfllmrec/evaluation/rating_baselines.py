"""Rating-prediction metrics, and scikit-surprise's SVD and SVD++ as baselines."""

import numpy as np

SURPRISE_ALGORITHMS = {"svd": "SVD", "svdpp": "SVDpp"}
SURPRISE_MISSING = ("needs scikit-surprise, which the core install leaves out. Fix: "
                    "pip install 'tfllmrec[baselines]' (or scikit-surprise), or leave it out of "
                    "ranking.baselines, e.g. `--set ranking.baselines=[]`.")


def rating_metrics(predictions, labels):
    """RMSE and MAE of predicted ratings.

    Example:
    >>> rating_metrics(np.array([3.0, 4.0]), np.array([4.0, 4.0]))
    {'rmse': 0.7071, 'mae': 0.5}
    """
    errors = np.asarray(predictions, np.float64) - np.asarray(labels, np.float64)
    return {"rmse": round(float(np.sqrt(np.mean(errors ** 2))), 4), "mae": round(float(np.mean(np.abs(errors))), 4)}


def surprise_available():
    """Whether scikit-surprise can be imported (the `baselines` extra)."""
    try:
        import surprise  # noqa: F401
    except ImportError:
        return False
    return True


class SurpriseBaseline:
    """scikit-surprise's SVD or SVD++ with its default settings, on integer ids.

    Surprise clips its estimates to the rating scale, taken here from the
    training ratings; `fit` and `predict` take index arrays.

    Args:
        name: str. "svd" or "svdpp".
        seed: int. Surprise's `random_state` (its initial factors).

    Example:
    >>> model = SurpriseBaseline("svd", seed=0).fit(np.array([0, 0, 1]), np.array([0, 1, 0]),
    ...                                             np.array([5.0, 1.0, 5.0]))
    >>> model.predict(np.array([1]), np.array([0])).round(1).tolist()
    [4.2]
    """

    def __init__(self, name, seed=0):
        if name not in SURPRISE_ALGORITHMS:
            raise ValueError(f"{name!r} is not a Surprise baseline; use {', '.join(SURPRISE_ALGORITHMS)}.")
        self.name, self.seed = name, int(seed)
        self.algorithm = None

    def fit(self, users, items, ratings):
        try:
            import pandas as pd
            import surprise
        except ImportError:
            raise ImportError(f"The {self.name} baseline {SURPRISE_MISSING}") from None
        ratings = np.asarray(ratings, np.float64)
        frame = pd.DataFrame({"user": np.asarray(users), "item": np.asarray(items), "rating": ratings})
        reader = surprise.Reader(rating_scale=(float(ratings.min()), float(ratings.max())))
        trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
        self.algorithm = getattr(surprise, SURPRISE_ALGORITHMS[self.name])(random_state=self.seed)
        self.algorithm.fit(trainset)
        return self

    def predict(self, users, items):
        """Estimated ratings `[n]` (the global mean for ids unseen in training)."""
        return np.array([self.algorithm.predict(u, i).est for u, i in zip(np.asarray(users).tolist(),
                                                                          np.asarray(items).tolist())])
