"""The editor's review of a take: accepted or rejected, starred, a note.

Reviews live in the folder's store (the ``reviews`` table) under a key that names the
take's *content*, not its row: a rescan replaces a take's row, and a moved or renamed
take keeps its hash, so its review follows it.  A take that could not be read has no
hash and is keyed by its path instead.  Two files with the same bytes share a review.
"""

from __future__ import annotations

from dataclasses import dataclass

from qc.store import Store, StoredTake

__all__ = ["DECISIONS", "REVIEW_STATES", "Review", "review_key", "load_reviews", "save_review"]

#: what an editor can decide about a take (``None``: not decided yet)
DECISIONS: tuple[str, ...] = ("accepted", "rejected")
#: the review states the ranking filters on
REVIEW_STATES: tuple[str, ...] = ("unreviewed", "accepted", "rejected", "starred")


@dataclass(frozen=True)
class Review:
    """One take's review.

    Parameters
    ----------
    decision : str or None
        ``"accepted"``, ``"rejected"`` or None (undecided).
    starred : bool
        A favourite, whatever the decision.
    note : str
        Free text for the editor.
    updated : str
        ISO 8601 time of the last change ('' for a take never reviewed).
    """

    decision: str | None = None
    starred: bool = False
    note: str = ""
    updated: str = ""

    def __post_init__(self) -> None:
        if self.decision is not None and self.decision not in DECISIONS:
            raise ValueError(f"unknown decision {self.decision!r} (expected one of {DECISIONS})")

    @property
    def reviewed(self) -> bool:
        """Whether the editor has done anything with the take."""
        return self.decision is not None or self.starred or bool(self.note.strip())

    @property
    def state(self) -> str:
        """``accepted``, ``rejected`` or ``unreviewed`` (the decision, for filtering)."""
        return self.decision or "unreviewed"


def review_key(content_hash: str | None, path: str) -> str:
    """The key a take's review is stored under: its content hash, else its path.

    Examples
    --------
    >>> review_key("ab12", "shot/t1.mp4")
    'hash:ab12'
    >>> review_key(None, "shot/broken.mp4")
    'path:shot/broken.mp4'
    """
    return f"hash:{content_hash}" if content_hash else f"path:{path}"


def load_reviews(store: Store) -> dict[str, Review]:
    """Every review in the store, by key."""
    return {
        key: Review(r["decision"], r["starred"], r["note"], r["updated"])
        for key, r in store.reviews().items()
    }


def save_review(
    store: Store,
    take: StoredTake,
    *,
    decision: str | None,
    starred: bool = False,
    note: str = "",
) -> Review:
    """Write a take's review to the store at once (one transaction) and return it.

    Raises
    ------
    ValueError
        ``decision`` is not one of :data:`DECISIONS` or None.
    StoreError
        The store cannot be written.
    """
    review = Review(decision, bool(starred), note)
    store.save_review(review_key(take.hash, take.path), path=take.path,
                      decision=review.decision, starred=review.starred, note=review.note)
    return load_reviews(store)[review_key(take.hash, take.path)]
