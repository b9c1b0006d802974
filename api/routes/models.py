"""``/v1/models``: the base models offered here and the project's fine-tuned models."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ProjectDep, SessionDep, SettingsDep
from api.job_requests import base_models
from api.schemas import ModelList, ModelObject
from store.errors import NotFound
from store.ids import unix_seconds
from store.job_queries import fine_tuned_model, fine_tuned_models
from store.models import Job

router = APIRouter(prefix="/v1/models", tags=["models"])

#: ``owned_by`` of the base models.
BASE_OWNER = "radis"


def _fine_tuned(job: Job) -> ModelObject:
    assert job.fine_tuned_model is not None
    return ModelObject(
        id=job.fine_tuned_model, created=unix_seconds(job.finished_at) or job.created_at_unix, owned_by=job.project_id
    )


@router.get("", response_model=ModelList, summary="List models")
def list_models(project: ProjectDep, session: SessionDep, settings: SettingsDep) -> ModelList:
    """Base models (``owned_by: "radis"``), then the project's fine-tuned models, newest first."""
    data = [ModelObject(id=name, created=0, owned_by=BASE_OWNER) for name in base_models(settings)]
    data += [_fine_tuned(job) for job in fine_tuned_models(session, project.id)]
    return ModelList(data=data)


# ":path" because base model names may hold a slash (hub ids such as "HuggingFaceTB/SmolLM2-135M-Instruct").
@router.get("/{model_id:path}", response_model=ModelObject, summary="Retrieve a model")
def get_model(model_id: str, project: ProjectDep, session: SessionDep, settings: SettingsDep) -> ModelObject:
    """A base model, or one of the project's fine-tuned models; anything else is a 404."""
    if model_id in base_models(settings):
        return ModelObject(id=model_id, created=0, owned_by=BASE_OWNER)
    job = fine_tuned_model(session, project.id, model_id)
    if job is None:
        raise NotFound("model", model_id)
    return _fine_tuned(job)
