"""Content sources: web pages, uploaded files and short answers, with their ingestion progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile
from fastapi.responses import JSONResponse

from admin_api.entrypoints.http.errors import EDIT_ERRORS, READ_ERRORS, error_responses
from admin_api.entrypoints.http.models.sources import (
    KnowledgeBaseCreate,
    SourceCreate,
    SourceList,
    SourceOut,
    SourcePatch,
    UrlSourceCreate,
    source_out,
)
from admin_api.entrypoints.http.params import IdempotencyKey
from admin_api.entrypoints.http.security import AccountId, Editor, Reader, Services, fingerprint, idempotent

router = APIRouter(prefix="/v1/accounts/{account_id}", tags=["sources"])
UPLOAD_PATH = "/sources/files"
SourceId = Annotated[str, Path(min_length=1, max_length=60, description="Source id.")]


@router.get("/sources", response_model=SourceList, responses=READ_ERRORS, summary="List sources")
async def list_sources(account_id: AccountId, who: Reader, api: Services) -> SourceList:
    return SourceList(items=[source_out(row) for row in await api.sources.list(account_id)])


@router.post(
    "/sources",
    status_code=201,
    response_model=SourceOut,
    responses={**EDIT_ERRORS, **error_responses(409)},
    summary="Add a URL, a short answer or the knowledge base",
)
async def create_source(
    account_id: AccountId, body: SourceCreate, who: Editor, api: Services, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    async def run() -> SourceOut:
        if isinstance(body, UrlSourceCreate):
            row = await api.sources.create_url(
                account_id,
                actor=who.key_id,
                url=body.url,
                import_related=body.import_related,
                citations_enabled=body.citations_enabled,
                private=body.private,
            )
        elif isinstance(body, KnowledgeBaseCreate):
            row = await api.sources.create_knowledge_base(
                account_id, actor=who.key_id, citations_enabled=body.citations_enabled, private=body.private
            )
        else:
            row = await api.sources.create_short_answer(
                account_id,
                actor=who.key_id,
                question=body.question,
                answer=body.answer,
                citations_enabled=body.citations_enabled,
            )
        return source_out(row)

    return await idempotent(
        api,
        account_id=account_id,
        scope="POST /sources",
        key=idempotency_key,
        request_fingerprint=fingerprint(body.model_dump(mode="json")),
        status_code=201,
        run=run,
    )


@router.post(
    UPLOAD_PATH,
    status_code=201,
    response_model=SourceOut,
    responses={**EDIT_ERRORS, **error_responses(413, 415)},
    summary="Upload a file (docx, htm, xhtml, cfg, pptx, conf, csv, json, html, text, txt, pdf, rst, xml, md)",
)
async def upload_source(
    account_id: AccountId,
    who: Editor,
    api: Services,
    file: Annotated[UploadFile, File(description="The document.")],
    citations_enabled: Annotated[bool, Form()] = True,
    private: Annotated[bool, Form()] = False,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    content = await file.read(api.sources.max_upload_bytes + 1)
    filename = file.filename or ""

    async def run() -> SourceOut:
        row = await api.sources.upload_file(
            account_id,
            actor=who.key_id,
            filename=filename,
            content_type=file.content_type or "application/octet-stream",
            content=content,
            citations_enabled=citations_enabled,
            private=private,
        )
        return source_out(row)

    return await idempotent(
        api,
        account_id=account_id,
        scope="POST /sources/files",
        key=idempotency_key,
        request_fingerprint=fingerprint([filename, citations_enabled, private, fingerprint(content.hex())]),
        status_code=201,
        run=run,
    )


@router.get(
    "/sources/{source_id}", response_model=SourceOut, responses=READ_ERRORS, summary="A source and its progress"
)
async def get_source(account_id: AccountId, source_id: SourceId, who: Reader, api: Services) -> SourceOut:
    return source_out(await api.sources.get(account_id, source_id))


@router.patch(
    "/sources/{source_id}",
    response_model=SourceOut,
    responses=EDIT_ERRORS,
    summary="Citations on/off, privacy, or edit a short answer",
    description="Fields left out keep their value. A patch that changes nothing (no field, or the values the "
    "source already has) returns the source as it is: no audit entry, nothing sent to ingestion.",
)
async def patch_source(
    account_id: AccountId, source_id: SourceId, body: SourcePatch, who: Editor, api: Services
) -> SourceOut:
    row = await api.sources.update(account_id, actor=who.key_id, source_id=source_id, changes=body.model_dump())
    return source_out(row)


@router.delete(
    "/sources/{source_id}", status_code=204, response_class=Response, responses=EDIT_ERRORS, summary="Delete a source"
)
async def delete_source(account_id: AccountId, source_id: SourceId, who: Editor, api: Services) -> Response:
    await api.sources.delete(account_id, actor=who.key_id, source_id=source_id)
    return Response(status_code=204)


@router.post(
    "/sources/{source_id}/resync",
    status_code=202,
    response_model=SourceOut,
    responses=EDIT_ERRORS,
    summary="Sync the source again",
)
async def resync_source(account_id: AccountId, source_id: SourceId, who: Editor, api: Services) -> SourceOut:
    return source_out(await api.sources.resync(account_id, actor=who.key_id, source_id=source_id))
