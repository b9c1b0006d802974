"""Live progress of a job in the terminal: one bar per stage, fed by the job's event stream (SSE).

Rationales n/N, training step/total with loss, tokens/s and ETA, evaluation units done/total; other
events are printed as lines above the bars. Shared by ``radis jobs watch``, ``radis jobs create
--watch`` and ``radis demo``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from radis_cli.client import follow_events


def _eta(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    return f"  ETA {minutes}:{secs:02d}"


class StageBars:
    """The bars of one job; :meth:`show` takes each event as the API returns it."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bars: dict[str, TaskID] = {}

    def bar(self, stage: str, total: int | None) -> TaskID:
        if stage not in self.bars:
            self.bars[stage] = self.progress.add_task(stage.replace("_", " "), total=total, info="")
        elif total is not None:
            self.progress.update(self.bars[stage], total=total)
        return self.bars[stage]

    def show(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if "rationales_total" in data:
            self.progress.update(self.bar("generating_rationales", data["rationales_total"]), completed=data["rationales_done"])
        elif "targets_total" in data:  # SDFT rewrites, SeqKD teacher translations
            self.progress.update(self.bar("generating_targets", data["targets_total"]), completed=data["targets_done"])
        elif "total_steps" in data and "step" in data:
            loss = data.get("train_loss")
            info = f"loss {loss:.3f}" if isinstance(loss, (int, float)) else ""
            if isinstance(data.get("tokens_per_second"), (int, float)):
                info += f"  {data['tokens_per_second']:.0f} tok/s"
            self.progress.update(
                self.bar("training", data["total_steps"]), completed=data["step"], info=info + _eta(data.get("eta_seconds"))
            )
        elif "eval_total" in data:
            self.progress.update(self.bar("evaluating", data["eval_total"]), completed=data["eval_done"], info="base vs tuned")
        elif event.get("type") != "metrics":
            stamp = time.strftime("%H:%M:%S", time.localtime(event.get("created_at") or time.time()))
            style = "red" if event.get("level") == "error" else "dim"
            self.progress.console.print(f"[{style}]{stamp}[/] {event['message']}", markup=True, highlight=False)

    def finish(self, status: str) -> None:
        """Fill the bars of a succeeded job (the last metrics event may precede the final step)."""
        for task_id in self.bars.values():
            task = self.progress.tasks[task_id]
            if task.total is None:
                self.progress.update(task_id, total=1, completed=1 if status == "succeeded" else 0)
            elif status == "succeeded":
                self.progress.update(task_id, completed=task.total)


def watch(client: httpx.Client, job_id: str, console: Console) -> dict[str, Any]:
    """Follow a job until it ends (bars per stage from its event stream); returns the final job object."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bars = StageBars(progress)
        # follow_events always ends with ("end", job) or raises, so the last item is the job.
        for kind, item in follow_events(client, job_id):
            if kind == "end":
                bars.finish(item["status"])
            else:
                bars.show(item)
    return item
