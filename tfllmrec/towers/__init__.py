"""Towers: the query and candidate halves of a two-tower model."""

from tfllmrec.towers.item_tower import ItemTower
from tfllmrec.towers.sequence_query_tower import SequenceQueryTower
from tfllmrec.towers.user_tower import UserTower

__all__ = ["ItemTower", "SequenceQueryTower", "UserTower"]
