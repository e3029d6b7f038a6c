"""``GET /v1/regions``: the regency's kecamatan and desa with their codes (any signed-in role)."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.common.auth import Authorize, Principal, Role
from services.request.context import Context

__all__ = ["router"]

router = APIRouter(prefix="/v1/regions", tags=["regions"])

anyone = Authorize(*Role)


class VillageOut(BaseModel):
    code: str
    name: str


class KecamatanOut(BaseModel):
    code: str
    name: str
    villages: list[VillageOut]


class RegencyOut(BaseModel):
    province_code: str
    province: str
    code: str
    name: str
    kecamatan: list[KecamatanOut]


@router.get("", response_model=RegencyOut, summary="The regency's kecamatan and desa")
async def get_regions(context: Context, _: Annotated[Principal, Depends(anyone)]) -> RegencyOut:
    catalog = context.catalog
    return RegencyOut(
        province_code=catalog.province_code,
        province=catalog.province_name,
        code=catalog.regency_code,
        name=catalog.regency_name,
        kecamatan=[
            KecamatanOut(
                code=k.code,
                name=k.name,
                villages=[VillageOut(code=v, name=catalog.villages[v].name) for v in k.villages],
            )
            for k in catalog.kecamatan.values()
        ],
    )
