"""``/v1/models``: the base models offered here and the project's fine-tuned models (which may be deleted)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ArtifactsDep, ProjectDep, SessionDep, SettingsDep
from api.errors import APIError
from api.job_requests import base_models
from api.schemas import ModelDeleted, ModelList, ModelObject
from store.errors import NotFound
from store.ids import unix_seconds
from store.job_queries import fine_tuned_model, fine_tuned_models
from store.jobs import delete_fine_tuned_model
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


@router.delete(
    "/{model_id:path}",
    response_model=ModelDeleted,
    responses={403: {"description": "A base model of the service (code model_not_deletable)"}},
    summary="Delete a fine-tuned model",
)
def delete_model(
    model_id: str, project: ProjectDep, session: SessionDep, settings: SettingsDep, artifacts: ArtifactsDep
) -> ModelDeleted:
    """Delete one of the project's fine-tuned models: its adapter goes (the result file and its bytes, no
    longer counted in the project's storage), and later reads of the model or its adapter are 404. The job,
    its report and its metrics stay. A base model is a 403; anything else a 404."""
    if model_id in base_models(settings):
        raise APIError(
            403,
            f"{model_id} is a base model of this service; only the project's fine-tuned (ft:…) models can be deleted.",
            code="model_not_deletable",
        )
    _, deleted = delete_fine_tuned_model(session, project.id, model_id)
    session.commit()
    # After the commit: a failed commit leaves the bytes of a model that still exists.
    for row in deleted:
        artifacts.delete(row.storage_key)
    return ModelDeleted(id=model_id)
