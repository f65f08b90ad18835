"""Task plug-ins of the runner: one per kind of learning problem.

`RetrievalTask` (interactions, full ranking, cold start) and
`ImpressionTask` (news clicks within impressions). A recipe's task is
`config.task`, chosen from its data config once; `task_for` builds it.
"""

from tfllmrec.tasks.impressions import ImpressionTask
from tfllmrec.tasks.indexed_impressions import IndexedImpressions
from tfllmrec.tasks.indexed_split import IndexedSplit, sampled_targets
from tfllmrec.tasks.phase import Phase
from tfllmrec.tasks.retrieval import RetrievalTask
from tfllmrec.tasks.task import Task, build_two_tower

TASKS = {task.name: task for task in (RetrievalTask, ImpressionTask)}


def task_for(config, verbose=0):
    """The task plug-in that `config` (a RecipeConfig) runs."""
    return TASKS[config.task](config, verbose=verbose)


__all__ = ["ImpressionTask", "IndexedImpressions", "IndexedSplit", "Phase", "RetrievalTask", "TASKS",
           "Task", "build_two_tower", "sampled_targets", "task_for"]
